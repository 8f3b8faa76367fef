using Heraclius.KvStore.StateMachine;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// The accounts and transfer records one chain operation reads, each read from the state once and
/// written back once, with the history entries and audit records it will emit, all discarded if the
/// chain fails. Lookups are linear: a chain names at most 64 legs, and usually one or two.
/// Callers take indices, and refs into the arrays only after the last lookup (a lookup may grow them).
/// </summary>
internal sealed class Workspace
{
    private readonly IStateAccess _state;

    public Workspace(IStateAccess state, int legs)
    {
        _state = state;
        Accounts = new AccountSlot[Math.Max(4, 2 * legs)];
        Transfers = new TransferSlot[Math.Max(4, 2 * legs)];
    }

    public AccountSlot[] Accounts { get; private set; }

    public int AccountCount { get; private set; }

    public TransferSlot[] Transfers { get; private set; }

    public int TransferCount { get; private set; }

    public List<(UInt128 AccountId, HistoryEntry Entry)> History { get; } = [];

    public List<byte[]> Audit { get; } = [];

    public int Account(UInt128 id)
    {
        for (var i = 0; i < AccountCount; i++)
        {
            if (Accounts[i].Id == id)
            {
                return i;
            }
        }

        if (AccountCount == Accounts.Length)
        {
            var grown = new AccountSlot[Accounts.Length * 2];
            Array.Copy(Accounts, grown, AccountCount);
            Accounts = grown;
        }

        var slot = new AccountSlot { Id = id };
        var bytes = _state.Get(StateKeys.Account(id));
        if (bytes is not null)
        {
            slot.Found = true;
            slot.Stored = AccountState.Decode(bytes);
            slot.Virtual = slot.Stored;
        }

        Accounts[AccountCount] = slot;
        return AccountCount++;
    }

    public int Transfer(UInt128 id)
    {
        for (var i = 0; i < TransferCount; i++)
        {
            if (Transfers[i].Id == id)
            {
                return i;
            }
        }

        if (TransferCount == Transfers.Length)
        {
            var grown = new TransferSlot[Transfers.Length * 2];
            Array.Copy(Transfers, grown, TransferCount);
            Transfers = grown;
        }

        var slot = new TransferSlot { Id = id };
        var bytes = _state.Get(StateKeys.Transfer(id));
        if (bytes is not null)
        {
            slot.InState = true;
            slot.Stored = TransferRecord.Decode(bytes);
            slot.Virtual = slot.Stored;
        }

        Transfers[TransferCount] = slot;
        return TransferCount++;
    }
}
