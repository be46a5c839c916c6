using System.CommandLine;
using Softswitch;

var seconds = new Option<double>("--seconds") { Description = "length of the throughput run", DefaultValueFactory = _ => 3 };
var demo = new Command("demo", "run the switch on in-memory ports with simulated hosts, then a short throughput run") { seconds };
demo.SetAction(pr => Demo.Run(pr.GetValue(seconds)));

var root = new RootCommand("Softswitch: a user-space OpenFlow 1.0 switch") { demo };
return root.Parse(args).Invoke();
