Console.WriteLine("softswitch");
