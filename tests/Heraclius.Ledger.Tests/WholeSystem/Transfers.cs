using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Tests.WholeSystem;

/// <summary>Transfer requests as a client writes them (no timestamp, code <see cref="LedgerAccounts.Code"/>).</summary>
public static class Transfers
{
    public static Transfer Plain(UInt128 id, UInt128 debit, UInt128 credit, ulong amount, uint ledger, TransferFlags flags = TransferFlags.None) =>
        new(id, debit, credit, amount, 0, 0, 0, ledger, LedgerAccounts.Code, flags, 0);

    /// <summary>A hold that never expires, so only a post or a void ends it.</summary>
    public static Transfer Pending(UInt128 id, UInt128 debit, UInt128 credit, ulong amount, uint ledger) =>
        Plain(id, debit, credit, amount, ledger, TransferFlags.Pending);

    /// <summary>Posts <paramref name="amount"/> of <paramref name="pending"/> (0 = all of it) and releases the rest.</summary>
    public static Transfer Post(UInt128 id, Transfer pending, ulong amount) =>
        new(id, pending.DebitAccountId, pending.CreditAccountId, amount, pending.Id, 0, 0, pending.Ledger, pending.Code, TransferFlags.PostPending, 0);

    public static Transfer Void(UInt128 id, Transfer pending) =>
        new(id, pending.DebitAccountId, pending.CreditAccountId, 0, pending.Id, 0, 0, pending.Ledger, pending.Code, TransferFlags.VoidPending, 0);

    /// <summary>Every leg but the last flagged linked, so the legs succeed or fail together.</summary>
    public static Transfer[] Linked(params Transfer[] legs) =>
        [.. legs.Select((t, i) => i < legs.Length - 1 ? t with { Flags = t.Flags | TransferFlags.Linked } : t)];
}
