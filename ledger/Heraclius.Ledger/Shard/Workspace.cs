using Heraclius.KvStore.StateMachine;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// The accounts and transfer records one chain operation reads, each read from the state once and
/// written back once, with the history entries and audit records it will emit, all discarded if the
/// chain fails. Lookups are linear: a chain names at most 64 legs, and usually one or two.
/// Callers take indices, and refs into the arrays only after the last lookup (a lookup may grow them).
/// A workspace is rented per operation and returned when the operation is done with it: the slot arrays
/// hold two account or transfer images each and were, fresh per message, the largest allocation of a
/// cross-shard transfer. Execution is synchronous, so one cached workspace per thread suffices; a nested
/// or concurrent rent simply gets a new one, and one not returned (an exception) is left to the GC.
/// </summary>
internal sealed class Workspace
{
    [ThreadStatic]
    private static Workspace? s_cached;

    private IStateAccess _state;

    public Workspace(IStateAccess state, int legs)
    {
        _state = state;
        Accounts = new AccountSlot[Math.Max(4, 2 * legs)];
        Transfers = new TransferSlot[Math.Max(4, 2 * legs)];
    }

    /// <summary>An empty workspace over <paramref name="state"/>: this thread's cached one if free, else a new one.</summary>
    public static Workspace Rent(IStateAccess state, int legs)
    {
        var ws = s_cached;
        if (ws is null)
        {
            return new Workspace(state, legs);
        }

        s_cached = null;
        ws._state = state;
        return ws;
    }

    /// <summary>Clears the workspace and keeps it for the next <see cref="Rent"/> on this thread; the caller must not use it after.</summary>
    public void Return()
    {
        Array.Clear(Accounts, 0, AccountCount);
        Array.Clear(Transfers, 0, TransferCount);
        AccountCount = 0;
        TransferCount = 0;
        History.Clear();
        Audit.Clear();
        _state = null!;

        // A chain of many legs grows the arrays; keep them (at most 64 legs, 128 slots each).
        s_cached = this;
    }

    public AccountSlot[] Accounts { get; private set; }

    public int AccountCount { get; private set; }

    public TransferSlot[] Transfers { get; private set; }

    public int TransferCount { get; private set; }

    public List<(UInt128 AccountId, HistoryEntry Entry)> History { get; } = [];

    /// <summary>The audit records the operation will emit, in order, encoded in one reused buffer.</summary>
    public AuditRecords Audit { get; } = new();

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

        // Looked up from the stack and decoded from the state's own bytes: no copy of them.
        ref var slot = ref Accounts[AccountCount];
        slot = new AccountSlot { Id = id, Key = StateKeys.Account(id) };
        if (_state.TryRead(slot.Key, out var bytes))
        {
            slot.Found = true;
            slot.Stored = AccountState.Decode(bytes);
            slot.Virtual = slot.Stored;
        }

        return AccountCount++;
    }

    public int Transfer(UInt128 id) => Transfer(id, read: true);

    /// <summary>
    /// A slot for a transfer id whose stored record the caller replaces whole without looking at it: the
    /// record a 2PC holds in flight, which Commit and Abort overwrite or delete. It is not read (one state
    /// lookup less per leg and shard), so <see cref="TransferSlot.InState"/> and the images say nothing of
    /// it; an in-flight record is never in the expiry wheel, so nothing of it needs undoing either. A slot
    /// the operation already has for the id is returned as it is.
    /// </summary>
    public int TransferToReplace(UInt128 id) => Transfer(id, read: false);

    private int Transfer(UInt128 id, bool read)
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

        ref var slot = ref Transfers[TransferCount];
        slot = new TransferSlot { Id = id, Key = StateKeys.Transfer(id) };
        if (read && _state.TryRead(slot.Key, out var bytes))
        {
            slot.InState = true;
            slot.Stored = TransferRecord.Decode(bytes);
            slot.Virtual = slot.Stored;
        }

        return TransferCount++;
    }
}

/// <summary>
/// Audit records encoded back to back in one buffer a workspace keeps: an operation's records are
/// emitted (copied into the decision's audit group) only once it succeeds, so none needs an array of
/// its own.
/// </summary>
internal sealed class AuditRecords
{
    private readonly List<int> _ends = [];
    private byte[] _buffer = new byte[4 * AuditRecord.TransferResultSize];
    private int _length;

    public int Count => _ends.Count;

    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            var start = index == 0 ? 0 : _ends[index - 1];
            return _buffer.AsSpan(start, _ends[index] - start);
        }
    }

    public void AddPosting(in AuditPosting posting) => AuditRecord.WritePosting(Take(AuditRecord.PostingSize), posting);

    public void AddTransferResult(in Transfer transfer, CreateTransferResult result) =>
        AuditRecord.WriteTransferResult(Take(AuditRecord.TransferResultSize), transfer, result);

    public void Clear()
    {
        _ends.Clear();
        _length = 0;
    }

    private Span<byte> Take(int size)
    {
        if (_buffer.Length - _length < size)
        {
            Array.Resize(ref _buffer, Math.Max(2 * _buffer.Length, _length + size));
        }

        var span = _buffer.AsSpan(_length, size);
        _length += size;
        _ends.Add(_length);
        return span;
    }
}
