using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

/// <summary>What a leg does to its accounts, from its flags (which the stateless checks allow one of).</summary>
internal enum LegKind : byte
{
    Plain,
    Pending,
    Post,
    Void,
}

internal static class LegKinds
{
    public static LegKind Of(in Transfer t) =>
        t.IsPending ? LegKind.Pending : t.IsPost ? LegKind.Post : t.IsVoid ? LegKind.Void : LegKind.Plain;
}
