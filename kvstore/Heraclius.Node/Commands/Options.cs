namespace Heraclius.Node.Commands;

/// <summary>Minimal "--name value" option parsing shared by the commands.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public Options(string[] args, params string[] flags)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal))
            {
                Positional.Add(a);
            }
            // An option followed by another option is a flag: no value of ours starts with "--", and taking the
            // next option as this one's value dropped it silently (`--no-baseline --log` lost --log).
            else if (flags.Contains(a) || i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                _values[a] = "true";
            }
            else
            {
                _values[a] = args[++i];
            }
        }
    }

    public List<string> Positional { get; } = [];

    public bool Help => _values.ContainsKey("--help") || Positional.Contains("-h");

    /// <summary>Whether <paramref name="name"/> was given on the command line.</summary>
    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>Refuses options the command does not know (a typo such as --shard would otherwise be ignored silently).</summary>
    public void RejectUnknown(params string[] known)
    {
        foreach (var name in _values.Keys)
        {
            if (name != "--help" && !known.Contains(name))
            {
                throw new ArgumentException($"unknown option {name}; known: {string.Join(" ", known)}");
            }
        }
    }

    public string Get(string name, string fallback) => _values.TryGetValue(name, out var v) ? v : fallback;

    public int GetInt(string name, int fallback) =>
        _values.TryGetValue(name, out var v) ? (int.TryParse(v, out var i) ? i : throw new ArgumentException($"{name} must be an integer")) : fallback;

    public TimeSpan GetDuration(string name, TimeSpan fallback)
    {
        if (!_values.TryGetValue(name, out var v))
        {
            return fallback;
        }

        var unit = v.TrimStart("0123456789.".ToCharArray());
        var number = double.Parse(v[..^unit.Length], System.Globalization.CultureInfo.InvariantCulture);
        return unit switch
        {
            "" or "s" => TimeSpan.FromSeconds(number),
            "ms" => TimeSpan.FromMilliseconds(number),
            "m" => TimeSpan.FromMinutes(number),
            _ => throw new ArgumentException($"{name}: unknown unit '{unit}' (use ms, s or m)"),
        };
    }
}
