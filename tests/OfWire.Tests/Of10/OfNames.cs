using System.Globalization;
using System.Net;
using System.Text;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>Maps openflow.h names used in the vectors ("OFPBRC_BAD_LEN") onto the codec's enums.</summary>
public static class OfNames
{
    /// <summary>"OFPBRC_BAD_LEN" -> "BadLen": drop the prefix up to the first '_', then PascalCase.</summary>
    public static string Pascal(string ofpName)
    {
        int underscore = ofpName.IndexOf('_');
        string rest = underscore >= 0 ? ofpName[(underscore + 1)..] : ofpName;
        var sb = new StringBuilder();
        foreach (string part in rest.Split('_', StringSplitOptions.RemoveEmptyEntries))
        {
            sb.Append(char.ToUpperInvariant(part[0])).Append(part[1..].ToLowerInvariant());
        }
        return sb.ToString();
    }

    public static T Parse<T>(string ofpName) where T : struct, Enum =>
        Enum.TryParse(Pascal(ofpName), ignoreCase: false, out T value)
            ? value
            : throw new ArgumentException($"'{ofpName}' is not a {typeof(T).Name} name.");

    public static OfpErrorType ErrorType(string name) => Parse<OfpErrorType>(name);

    /// <summary>An error code name; its prefix says which type it belongs to.</summary>
    public static OfpError Error(string codeName)
    {
        string prefix = codeName[..codeName.IndexOf('_')];
        return prefix switch
        {
            "OFPHFC" => OfpError.HelloFailed(Parse<OfpHelloFailedCode>(codeName)),
            "OFPBRC" => OfpError.BadRequest(Parse<OfpBadRequestCode>(codeName)),
            "OFPBAC" => OfpError.BadAction(Parse<OfpBadActionCode>(codeName)),
            "OFPFMFC" => OfpError.FlowModFailed(Parse<OfpFlowModFailedCode>(codeName)),
            "OFPPMFC" => OfpError.PortModFailed(Parse<OfpPortModFailedCode>(codeName)),
            "OFPQOFC" => OfpError.QueueOpFailed(Parse<OfpQueueOpFailedCode>(codeName)),
            _ => throw new ArgumentException($"Unknown error code prefix in '{codeName}'."),
        };
    }

    /// <summary>"OFPET_BAD_REQUEST/OFPBRC_BAD_LEN" for a known error; "type45250/code0" otherwise.</summary>
    public static string ErrorText(OfpErrorType type, ushort code)
    {
        string? codeName = type switch
        {
            OfpErrorType.HelloFailed => Name((OfpHelloFailedCode)code, "OFPHFC"),
            OfpErrorType.BadRequest => Name((OfpBadRequestCode)code, "OFPBRC"),
            OfpErrorType.BadAction => Name((OfpBadActionCode)code, "OFPBAC"),
            OfpErrorType.FlowModFailed => Name((OfpFlowModFailedCode)code, "OFPFMFC"),
            OfpErrorType.PortModFailed => Name((OfpPortModFailedCode)code, "OFPPMFC"),
            OfpErrorType.QueueOpFailed => Name((OfpQueueOpFailedCode)code, "OFPQOFC"),
            _ => null,
        };
        return codeName is null
            ? $"type{(ushort)type}/code{code}"
            : $"{Name(type, "OFPET")}/{codeName}";
    }

    /// <summary>OfpErrorType.BadRequest -> "OFPET_BAD_REQUEST".</summary>
    public static string? Name<T>(T value, string prefix) where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            return null;
        }
        string pascal = value.ToString();
        var sb = new StringBuilder(prefix);
        for (int i = 0; i < pascal.Length; i++)
        {
            if (char.IsUpper(pascal[i]) || (char.IsDigit(pascal[i]) && i > 0 && !char.IsDigit(pascal[i - 1])))
            {
                sb.Append('_');
            }
            sb.Append(char.ToUpperInvariant(pascal[i]));
        }
        return sb.ToString();
    }

    public static uint Ipv4(string dotted)
    {
        byte[] b = IPAddress.Parse(dotted).GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    public static ulong HexU64(string hex) => ulong.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
}
