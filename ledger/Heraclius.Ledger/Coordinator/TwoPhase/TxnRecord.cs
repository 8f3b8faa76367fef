using System.Buffers.Binary;
using Heraclius.KvStore.Encoding;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;

namespace Heraclius.Ledger.Coordinator.TwoPhase;

/// <summary>
/// A 2PC record's bytes, read and changed in place at fixed offsets so a vote or an ack costs one copy
/// of the record and no parse of the chain:
/// u8 phase ‖ u8 flags (1 = owns the first-id index entry) ‖ u64 deadline ms ‖ i32 failedLeg (−1 none)
/// ‖ u16 code ‖ u16 p ‖ u16 n ‖ p × (u16 shard index ‖ u8 state: 1 voted, 2 acked)
/// ‖ n × (u32 debit ledger ‖ u32 credit ledger) ‖ n × transfer ‖ u16 w ‖ w × client ref.
/// While preparing, failedLeg/code hold the smallest (leg, code) refused so far; once aborting, the
/// final ones (with accounts_must_have_the_same_ledger applied).
/// </summary>
internal static class TxnRecord
{
    public const byte OwnsIndex = 1;
    public const byte Voted = 1;
    public const byte Acked = 2;

    private const int PhaseAt = 0;
    private const int FlagsAt = 1;
    private const int DeadlineAt = 2;
    private const int FailedLegAt = 10;
    private const int CodeAt = 14;
    private const int ParticipantCountAt = 16;
    private const int LegCountAt = 18;
    private const int ParticipantsAt = 20;
    private const int ParticipantSize = 3;
    private const int LedgersSize = 8;

    public static byte[] Create(ulong deadlineMs, bool ownsIndex, ReadOnlySpan<int> participants, IReadOnlyList<Transfer> chain, in ClientRef waiter)
    {
        var n = chain.Count;
        var size = ParticipantsAt + (participants.Length * ParticipantSize) + (n * (LedgersSize + LedgerCodec.TransferSize)) + 2 + waiter.EncodedSize;
        var w = new CanonicalWriter(size);
        w.U8((byte)TxnPhase.Preparing);
        w.U8(ownsIndex ? OwnsIndex : (byte)0);
        w.U64(deadlineMs);
        w.I32(-1);
        w.U16(0);
        w.U16((ushort)participants.Length);
        w.U16((ushort)n);
        foreach (var shard in participants)
        {
            w.U16((ushort)shard);
            w.U8(0);
        }

        for (var i = 0; i < n; i++)
        {
            w.U64(0);
        }

        for (var i = 0; i < n; i++)
        {
            LedgerCodec.WriteTransfer(w, chain[i]);
        }

        w.U16(1);
        waiter.Write(w);
        return w.Detach();
    }

    public static TxnPhase Phase(ReadOnlySpan<byte> r) => (TxnPhase)r[PhaseAt];

    public static void SetPhase(byte[] r, TxnPhase phase) => r[PhaseAt] = (byte)phase;

    public static bool IndexOwner(ReadOnlySpan<byte> r) => (r[FlagsAt] & OwnsIndex) != 0;

    public static ulong Deadline(ReadOnlySpan<byte> r) => BinaryPrimitives.ReadUInt64LittleEndian(r[DeadlineAt..]);

    public static int FailedLeg(ReadOnlySpan<byte> r) => BinaryPrimitives.ReadInt32LittleEndian(r[FailedLegAt..]);

    public static CreateTransferResult Code(ReadOnlySpan<byte> r) => (CreateTransferResult)BinaryPrimitives.ReadUInt16LittleEndian(r[CodeAt..]);

    public static void SetFailure(byte[] r, int leg, CreateTransferResult code)
    {
        BinaryPrimitives.WriteInt32LittleEndian(r.AsSpan(FailedLegAt), leg);
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(CodeAt), (ushort)code);
    }

    public static int Participants(ReadOnlySpan<byte> r) => BinaryPrimitives.ReadUInt16LittleEndian(r[ParticipantCountAt..]);

    public static int Legs(ReadOnlySpan<byte> r) => BinaryPrimitives.ReadUInt16LittleEndian(r[LegCountAt..]);

    public static int ParticipantShard(ReadOnlySpan<byte> r, int i) => BinaryPrimitives.ReadUInt16LittleEndian(r[(ParticipantsAt + (i * ParticipantSize))..]);

    public static byte ParticipantState(ReadOnlySpan<byte> r, int i) => r[ParticipantsAt + (i * ParticipantSize) + 2];

    public static void MarkParticipant(byte[] r, int i, byte bit) => r[ParticipantsAt + (i * ParticipantSize) + 2] |= bit;

    /// <summary>The participant slot of shard <paramref name="shard"/>, or −1 if it does not take part.</summary>
    public static int FindParticipant(ReadOnlySpan<byte> r, int shard)
    {
        var p = Participants(r);
        for (var i = 0; i < p; i++)
        {
            if (ParticipantShard(r, i) == shard)
            {
                return i;
            }
        }

        return -1;
    }

    public static bool All(ReadOnlySpan<byte> r, byte bit) => AllBut(r, -1, bit);

    /// <summary>Whether every participant but the one at <paramref name="except"/> has <paramref name="bit"/> (read only: no copy needed to ask).</summary>
    public static bool AllBut(ReadOnlySpan<byte> r, int except, byte bit)
    {
        var p = Participants(r);
        for (var i = 0; i < p; i++)
        {
            if (i != except && (ParticipantState(r, i) & bit) == 0)
            {
                return false;
            }
        }

        return true;
    }

    public static LegLedgers Ledgers(ReadOnlySpan<byte> r, int leg)
    {
        var at = LedgersAt(r) + (leg * LedgersSize);
        return new LegLedgers(BinaryPrimitives.ReadUInt32LittleEndian(r[at..]), BinaryPrimitives.ReadUInt32LittleEndian(r[(at + 4)..]));
    }

    /// <summary>
    /// Keeps what a vote says about each leg's ledgers. A shard reports 0 for a side it does not hold, so
    /// the non-zero value is the holder's: the debit ledger comes from the debit account's shard and
    /// the credit ledger from the credit account's.
    /// </summary>
    public static void MergeLedgers(byte[] r, ReadOnlySpan<LegLedgers> ledgers)
    {
        var at = LedgersAt(r);
        for (var i = 0; i < ledgers.Length; i++)
        {
            var span = r.AsSpan(at + (i * LedgersSize));
            if (ledgers[i].Debit != 0)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(span, ledgers[i].Debit);
            }

            if (ledgers[i].Credit != 0)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(span[4..], ledgers[i].Credit);
            }
        }
    }

    /// <summary>Whether the record's chain is <paramref name="chain"/>, field for field (a retry that may join it).</summary>
    public static bool ChainEquals(ReadOnlySpan<byte> r, IReadOnlyList<Transfer> chain)
    {
        var n = Legs(r);
        if (n != chain.Count)
        {
            return false;
        }

        var reader = new CanonicalReader(r.Slice(ChainAt(r), n * LedgerCodec.TransferSize));
        for (var i = 0; i < n; i++)
        {
            if (LedgerCodec.ReadTransfer(ref reader) != chain[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The chain's first transfer id (the key of the retry index).</summary>
    public static UInt128 FirstTransferId(ReadOnlySpan<byte> r)
    {
        var at = ChainAt(r);
        return new UInt128(BinaryPrimitives.ReadUInt64LittleEndian(r[(at + 8)..]), BinaryPrimitives.ReadUInt64LittleEndian(r[at..]));
    }

    /// <summary>The flags of leg <paramref name="leg"/> (the last u16 before its timestamp in the transfer encoding).</summary>
    public static TransferFlags LegFlags(ReadOnlySpan<byte> r, int leg) =>
        (TransferFlags)BinaryPrimitives.ReadUInt16LittleEndian(r[(ChainAt(r) + ((leg + 1) * LedgerCodec.TransferSize) - 10)..]);

    public static int WaiterCount(ReadOnlySpan<byte> r) => BinaryPrimitives.ReadUInt16LittleEndian(r[WaitersAt(r)..]);

    /// <summary>A copy of the record with one more waiting client.</summary>
    public static byte[] AddWaiter(byte[] r, in ClientRef waiter)
    {
        var at = WaitersAt(r);
        var w = new CanonicalWriter(r.Length + waiter.EncodedSize);
        w.Fixed(r.AsSpan(0, at));
        w.U16((ushort)(WaiterCount(r) + 1));
        w.Fixed(r.AsSpan(at + 2));
        waiter.Write(w);
        return w.Detach();
    }

    public static ClientRef[] Waiters(ReadOnlySpan<byte> r)
    {
        var at = WaitersAt(r);
        var reader = new CanonicalReader(r[(at + 2)..]);
        var waiters = new ClientRef[WaiterCount(r)];
        for (var i = 0; i < waiters.Length; i++)
        {
            waiters[i] = ClientRef.Read(ref reader);
        }

        return waiters;
    }

    private static int LedgersAt(ReadOnlySpan<byte> r) => ParticipantsAt + (Participants(r) * ParticipantSize);

    private static int ChainAt(ReadOnlySpan<byte> r) => LedgersAt(r) + (Legs(r) * LedgersSize);

    private static int WaitersAt(ReadOnlySpan<byte> r) => ChainAt(r) + (Legs(r) * LedgerCodec.TransferSize);
}
