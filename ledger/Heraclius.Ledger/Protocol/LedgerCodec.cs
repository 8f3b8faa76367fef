using Heraclius.KvStore.Encoding;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Protocol;

/// <summary>
/// Fixed-size canonical encodings of the ledger's values (little-endian, field order = the format):
/// ids u128 as 16 bytes LE. Account 80 bytes, transfer 108 bytes, history entry 74 bytes.
/// </summary>
public static class LedgerCodec
{
    public const int AccountSize = 16 + 4 + 2 + 16 + 2 + (4 * 8) + 8;
    public const int TransferSize = (5 * 16) + 8 + 4 + 4 + 2 + 2 + 8;
    public const int HistoryEntrySize = 8 + 16 + 1 + 1 + 8 + (4 * 8) + 8;

    public static void WriteId(CanonicalWriter w, UInt128 id)
    {
        w.U64((ulong)id);
        w.U64((ulong)(id >> 64));
    }

    public static UInt128 ReadId(ref CanonicalReader r)
    {
        var lo = r.U64();
        var hi = r.U64();
        return new UInt128(hi, lo);
    }

    /// <summary>The 16 bytes an id is routed and stored by.</summary>
    public static byte[] IdBytes(UInt128 id)
    {
        var b = new byte[16];
        WriteIdTo(b, id);
        return b;
    }

    public static void WriteIdTo(Span<byte> destination, UInt128 id)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(destination, (ulong)id);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], (ulong)(id >> 64));
    }

    public static void WriteAccount(CanonicalWriter w, in Account a)
    {
        WriteId(w, a.Id);
        w.U32(a.Ledger);
        w.U16(a.Code);
        WriteId(w, a.Owner);
        w.U16((ushort)a.Flags);
        w.U64(a.DebitsPending);
        w.U64(a.DebitsPosted);
        w.U64(a.CreditsPending);
        w.U64(a.CreditsPosted);
        w.U64(a.Timestamp);
    }

    public static Account ReadAccount(ref CanonicalReader r) =>
        new(ReadId(ref r), r.U32(), r.U16(), ReadId(ref r), (AccountFlags)r.U16(), r.U64(), r.U64(), r.U64(), r.U64(), r.U64());

    public static void WriteTransfer(CanonicalWriter w, in Transfer t)
    {
        WriteId(w, t.Id);
        WriteId(w, t.DebitAccountId);
        WriteId(w, t.CreditAccountId);
        w.U64(t.Amount);
        WriteId(w, t.PendingId);
        WriteId(w, t.UserData);
        w.U32(t.Timeout);
        w.U32(t.Ledger);
        w.U16(t.Code);
        w.U16((ushort)t.Flags);
        w.U64(t.Timestamp);
    }

    public static Transfer ReadTransfer(ref CanonicalReader r) =>
        new(ReadId(ref r), ReadId(ref r), ReadId(ref r), r.U64(), ReadId(ref r), ReadId(ref r), r.U32(), r.U32(), r.U16(), (TransferFlags)r.U16(), r.U64());

    public static void WriteHistoryEntry(CanonicalWriter w, in HistoryEntry e)
    {
        w.U64(e.Sequence);
        WriteId(w, e.TransferId);
        w.U8((byte)e.Side);
        w.U8((byte)e.Movement);
        w.U64(e.Amount);
        w.U64(e.DebitsPending);
        w.U64(e.DebitsPosted);
        w.U64(e.CreditsPending);
        w.U64(e.CreditsPosted);
        w.U64(e.Timestamp);
    }

    public static HistoryEntry ReadHistoryEntry(ref CanonicalReader r) =>
        new(r.U64(), ReadId(ref r), (TransferSide)r.U8(), (TransferMovement)r.U8(), r.U64(), r.U64(), r.U64(), r.U64(), r.U64(), r.U64());

    public static void WriteChain(CanonicalWriter w, IReadOnlyList<Transfer> chain)
    {
        // Indexed, not foreach: enumerating an IReadOnlyList boxes an enumerator per message.
        w.U32((uint)chain.Count);
        for (var i = 0; i < chain.Count; i++)
        {
            WriteTransfer(w, chain[i]);
        }
    }

    /// <summary>A chain of 1..<see cref="LedgerRequest.MaxChainLength"/> transfers; throws <see cref="MalformedMessageException"/> otherwise.</summary>
    public static Transfer[] ReadChain(ref CanonicalReader r) => ReadChain(ref r, null);

    /// <summary>
    /// <see cref="ReadChain(ref CanonicalReader)"/> into <paramref name="reuse"/> when the chain has exactly its
    /// length (see <see cref="ChainScratch"/>), else into a new array.
    /// </summary>
    public static Transfer[] ReadChain(ref CanonicalReader r, Transfer[]? reuse)
    {
        var n = r.Count(LedgerRequest.MaxChainLength);
        if (n == 0)
        {
            throw new MalformedMessageException("empty transfer chain");
        }

        var chain = reuse is not null && reuse.Length == n ? reuse : new Transfer[n];
        for (var i = 0; i < n; i++)
        {
            chain[i] = ReadTransfer(ref r);
        }

        return chain;
    }

    public static void WriteTransferResults(CanonicalWriter w, IReadOnlyList<CreateTransferResult> results)
    {
        w.U32((uint)results.Count);
        for (var i = 0; i < results.Count; i++)
        {
            w.U16((ushort)results[i]);
        }
    }

    public static CreateTransferResult[] ReadTransferResults(ref CanonicalReader r)
    {
        var n = r.Count(LedgerRequest.MaxChainLength);
        var results = new CreateTransferResult[n];
        for (var i = 0; i < n; i++)
        {
            results[i] = (CreateTransferResult)r.U16();
        }

        return results;
    }
}
