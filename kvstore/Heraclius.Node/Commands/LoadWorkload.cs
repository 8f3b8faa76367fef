namespace Heraclius.Node.Commands;

/// <summary>What the virtual users issue: half Puts and half Gets (bench kv), or Gets only (bench get, as the paper measured).</summary>
internal enum LoadWorkload
{
    PutsAndGets,
    Gets,
}
