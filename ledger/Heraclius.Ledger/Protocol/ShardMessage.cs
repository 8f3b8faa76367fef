using Heraclius.KvStore.Encoding;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Protocol;

/// <summary>
/// A coordinator↔shard message: u8 kind ‖ body. Forward = ref ‖ bytes request; Apply = ref ‖ chain;
/// Prepare = u64 txn ‖ chain; Commit = u64 txn ‖ u64 timestamp (the coordinator's decision time); Abort = u64 txn ‖ results; Answer = ref ‖ bytes answer;
/// Applied = ref ‖ results; Vote = u64 txn ‖ bool prepared ‖ i32 failedLeg ‖ u16 code ‖ u32 n ‖
/// (u32 debitLedger ‖ u32 creditLedger)*; Ack = u64 txn. ref = string clientId ‖ u64 seq ‖ H(request);
/// chain = u32 n ‖ transfer*; results = u32 n ‖ u16*. Txn ids are the coordinator's own sequence:
/// a shard keys them by (coordinator cluster, txn).
/// </summary>
public readonly record struct ShardMessage(
    ShardMessageKind Kind,
    ClientRef Ref = default,
    ulong Txn = 0,
    byte[]? Bytes = null,
    Transfer[]? Chain = null,
    CreateTransferResult[]? Results = null,
    ShardVote? Vote = null,
    ulong Timestamp = 0)
{
    public static byte[] Forward(in ClientRef reference, ReadOnlySpan<byte> request) => RefAndBytes(ShardMessageKind.Forward, reference, request);

    public static byte[] Answer(in ClientRef reference, ReadOnlySpan<byte> answer) => RefAndBytes(ShardMessageKind.Answer, reference, answer);

    public static byte[] Apply(in ClientRef reference, IReadOnlyList<Transfer> chain)
    {
        var w = new CanonicalWriter(1 + reference.EncodedSize + 4 + (chain.Count * LedgerCodec.TransferSize));
        WriteApply(w, reference, chain);
        return w.Detach();
    }

    /// <summary><see cref="Apply"/>'s bytes appended to <paramref name="w"/>.</summary>
    public static void WriteApply(CanonicalWriter w, in ClientRef reference, IReadOnlyList<Transfer> chain)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.U8((byte)ShardMessageKind.Apply);
        reference.Write(w);
        LedgerCodec.WriteChain(w, chain);
    }

    public static byte[] Applied(in ClientRef reference, IReadOnlyList<CreateTransferResult> results)
    {
        var w = new CanonicalWriter(1 + reference.EncodedSize + 4 + (2 * results.Count));
        WriteApplied(w, reference, results);
        return w.Detach();
    }

    /// <summary><see cref="Applied"/>'s bytes appended to <paramref name="w"/>.</summary>
    public static void WriteApplied(CanonicalWriter w, in ClientRef reference, IReadOnlyList<CreateTransferResult> results)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.U8((byte)ShardMessageKind.Applied);
        reference.Write(w);
        LedgerCodec.WriteTransferResults(w, results);
    }

    public static byte[] Prepare(ulong txn, IReadOnlyList<Transfer> chain)
    {
        var w = new CanonicalWriter(1 + 8 + 4 + (chain.Count * LedgerCodec.TransferSize));
        WritePrepare(w, txn, chain);
        return w.Detach();
    }

    /// <summary><see cref="Prepare"/>'s bytes appended to <paramref name="w"/> (a reused writer: no array per message).</summary>
    public static void WritePrepare(CanonicalWriter w, ulong txn, IReadOnlyList<Transfer> chain)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.U8((byte)ShardMessageKind.Prepare);
        w.U64(txn);
        LedgerCodec.WriteChain(w, chain);
    }

    /// <summary>
    /// 2PC decided commit at the coordinator's decision <paramref name="timestamp"/> (ms), which both halves
    /// of a cross-shard transfer take as theirs (and a hold its expiry from).
    /// </summary>
    public static byte[] Commit(ulong txn, ulong timestamp = 0)
    {
        var w = new CanonicalWriter(17);
        WriteCommit(w, txn, timestamp);
        return w.Detach();
    }

    /// <summary><see cref="Commit"/>'s bytes appended to <paramref name="w"/>.</summary>
    public static void WriteCommit(CanonicalWriter w, ulong txn, ulong timestamp)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.U8((byte)ShardMessageKind.Commit);
        w.U64(txn);
        w.U64(timestamp);
    }

    public static byte[] Ack(ulong txn) => TxnOnly(ShardMessageKind.Ack, txn);

    /// <summary><see cref="Ack"/>'s bytes appended to <paramref name="w"/>.</summary>
    public static void WriteAck(CanonicalWriter w, ulong txn)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.U8((byte)ShardMessageKind.Ack);
        w.U64(txn);
    }

    public static byte[] Abort(ulong txn, IReadOnlyList<CreateTransferResult> results)
    {
        var w = new CanonicalWriter(1 + 8 + 4 + (2 * results.Count));
        WriteAbort(w, txn, results);
        return w.Detach();
    }

    /// <summary><see cref="Abort"/>'s bytes appended to <paramref name="w"/>.</summary>
    public static void WriteAbort(CanonicalWriter w, ulong txn, IReadOnlyList<CreateTransferResult> results)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.U8((byte)ShardMessageKind.Abort);
        w.U64(txn);
        LedgerCodec.WriteTransferResults(w, results);
    }

    public static byte[] VoteMessage(ulong txn, ShardVote vote)
    {
        ArgumentNullException.ThrowIfNull(vote);
        var w = new CanonicalWriter(1 + 8 + 1 + 4 + 2 + 4 + (8 * vote.Ledgers.Length));
        WriteVote(w, txn, vote);
        return w.Detach();
    }

    /// <summary><see cref="VoteMessage"/>'s bytes appended to <paramref name="w"/>.</summary>
    public static void WriteVote(CanonicalWriter w, ulong txn, ShardVote vote)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(vote);
        w.U8((byte)ShardMessageKind.Vote);
        w.U64(txn);
        w.Bool(vote.Prepared);
        w.I32(vote.FailedLeg);
        w.U16((ushort)vote.Code);
        w.U32((uint)vote.Ledgers.Length);
        foreach (var l in vote.Ledgers)
        {
            w.U32(l.Debit);
            w.U32(l.Credit);
        }
    }

    /// <summary>Parses a message; false for anything malformed (a certified group an honest cluster never produces is skipped deterministically).</summary>
    public static bool TryParse(ReadOnlySpan<byte> bytes, out ShardMessage message) => TryParse(bytes, out message, null);

    /// <summary><see cref="TryParse(ReadOnlySpan{byte}, out ShardMessage)"/>, a one-leg chain parsed into <paramref name="chainBuffer"/> (<see cref="ChainScratch"/>).</summary>
    internal static bool TryParse(ReadOnlySpan<byte> bytes, out ShardMessage message, Transfer[]? chainBuffer)
    {
        message = default;
        try
        {
            var r = new CanonicalReader(bytes);
            var kind = (ShardMessageKind)r.U8();
            switch (kind)
            {
                case ShardMessageKind.Forward:
                case ShardMessageKind.Answer:
                    var reference = ClientRef.Read(ref r);
                    message = new ShardMessage(kind, Ref: reference, Bytes: r.Bytes(1 << 20));
                    break;
                case ShardMessageKind.Apply:
                    var applyRef = ClientRef.Read(ref r);
                    message = new ShardMessage(kind, Ref: applyRef, Chain: LedgerCodec.ReadChain(ref r, chainBuffer));
                    break;
                case ShardMessageKind.Applied:
                    var appliedRef = ClientRef.Read(ref r);
                    message = new ShardMessage(kind, Ref: appliedRef, Results: LedgerCodec.ReadTransferResults(ref r));
                    break;
                case ShardMessageKind.Prepare:
                    var prepareTxn = r.U64();
                    message = new ShardMessage(kind, Txn: prepareTxn, Chain: LedgerCodec.ReadChain(ref r, chainBuffer));
                    break;
                case ShardMessageKind.Commit:
                    var commitTxn = r.U64();
                    message = new ShardMessage(kind, Txn: commitTxn, Timestamp: r.U64());
                    break;
                case ShardMessageKind.Ack:
                    message = new ShardMessage(kind, Txn: r.U64());
                    break;
                case ShardMessageKind.Abort:
                    var abortTxn = r.U64();
                    message = new ShardMessage(kind, Txn: abortTxn, Results: LedgerCodec.ReadTransferResults(ref r));
                    break;
                case ShardMessageKind.Vote:
                    var voteTxn = r.U64();
                    var prepared = r.Bool();
                    var failedLeg = r.I32();
                    var code = (CreateTransferResult)r.U16();
                    var n = r.Count(LedgerRequest.MaxChainLength);
                    var ledgers = new LegLedgers[n];
                    for (var i = 0; i < n; i++)
                    {
                        ledgers[i] = new LegLedgers(r.U32(), r.U32());
                    }

                    message = new ShardMessage(kind, Txn: voteTxn, Vote: new ShardVote(prepared, failedLeg, code, ledgers));
                    break;
                default:
                    return false;
            }

            r.End();
            return true;
        }
        catch (MalformedMessageException)
        {
            return false;
        }
    }

    private static byte[] RefAndBytes(ShardMessageKind kind, in ClientRef reference, ReadOnlySpan<byte> bytes)
    {
        var w = new CanonicalWriter(1 + reference.EncodedSize + 4 + bytes.Length);
        w.U8((byte)kind);
        reference.Write(w);
        w.Bytes(bytes);
        return w.Detach();
    }

    private static byte[] TxnOnly(ShardMessageKind kind, ulong txn)
    {
        var w = new CanonicalWriter(9);
        w.U8((byte)kind);
        w.U64(txn);
        return w.Detach();
    }
}
