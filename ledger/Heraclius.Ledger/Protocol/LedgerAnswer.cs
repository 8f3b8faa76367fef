using Heraclius.KvStore.Encoding;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Protocol;

/// <summary>
/// A client's answer: u8 operation ‖ body (see docs/design.md "Client operations"), or
/// u8 0xFF ‖ string reason for a malformed request. Only the fields of its operation are set.
/// </summary>
public sealed record LedgerAnswer(
    LedgerOperation Operation,
    CreateAccountResult AccountResult = CreateAccountResult.Ok,
    CreateTransferResult[]? TransferResults = null,
    CloseAccountResult CloseResult = CloseAccountResult.Ok,
    Account? Account = null,
    Transfer? Transfer = null,
    CreateTransferResult TransferResult = CreateTransferResult.Ok,
    HistoryEntry[]? History = null,
    ulong NextCursor = 0,
    string? Error = null)
{
    public static byte[] Malformed(string reason)
    {
        var w = new CanonicalWriter(5 + reason.Length * 3);
        w.U8((byte)LedgerOperation.Malformed);
        w.String(reason);
        return w.Detach();
    }

    public static byte[] CreateAccount(CreateAccountResult result) => Code(LedgerOperation.CreateAccount, (ushort)result);

    public static byte[] CloseAccount(CloseAccountResult result) => Code(LedgerOperation.CloseAccount, (ushort)result);

    public static byte[] CreateTransfers(IReadOnlyList<CreateTransferResult> results)
    {
        var w = new CanonicalWriter(5 + (2 * results.Count));
        WriteCreateTransfers(w, results);
        return w.Detach();
    }

    /// <summary><see cref="CreateTransfers"/>'s bytes appended to <paramref name="w"/>.</summary>
    public static void WriteCreateTransfers(CanonicalWriter w, IReadOnlyList<CreateTransferResult> results)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.U8((byte)LedgerOperation.CreateTransfers);
        LedgerCodec.WriteTransferResults(w, results);
    }

    public static byte[] LookupAccount(Account? account)
    {
        var w = new CanonicalWriter(2 + LedgerCodec.AccountSize);
        w.U8((byte)LedgerOperation.LookupAccount);
        w.Bool(account.HasValue);
        if (account is { } a)
        {
            LedgerCodec.WriteAccount(w, a);
        }

        return w.Detach();
    }

    public static byte[] LookupTransfer(Transfer? transfer, CreateTransferResult result)
    {
        var w = new CanonicalWriter(4 + LedgerCodec.TransferSize);
        w.U8((byte)LedgerOperation.LookupTransfer);
        w.Bool(transfer.HasValue);
        if (transfer is { } t)
        {
            LedgerCodec.WriteTransfer(w, t);
            w.U16((ushort)result);
        }

        return w.Detach();
    }

    /// <summary>A history page; <paramref name="next"/> is the cursor for the following page, 0 at the end.</summary>
    public static byte[] AccountHistory(IReadOnlyList<HistoryEntry> entries, ulong next)
    {
        var w = new CanonicalWriter(13 + (entries.Count * LedgerCodec.HistoryEntrySize));
        w.U8((byte)LedgerOperation.AccountHistory);
        w.U32((uint)entries.Count);
        foreach (var e in entries)
        {
            LedgerCodec.WriteHistoryEntry(w, e);
        }

        w.U64(next);
        return w.Detach();
    }

    /// <summary>True when <paramref name="answer"/> is a lookup-transfer answer that found the transfer (the coordinator picks the first such shard).</summary>
    public static bool IsFoundTransfer(ReadOnlySpan<byte> answer) =>
        answer.Length > 2 && answer[0] == (byte)LedgerOperation.LookupTransfer && answer[1] == 1;

    public static bool TryParse(ReadOnlySpan<byte> bytes, out LedgerAnswer answer)
    {
        answer = null!;
        try
        {
            var r = new CanonicalReader(bytes);
            var op = (LedgerOperation)r.U8();
            switch (op)
            {
                case LedgerOperation.Malformed:
                    answer = new LedgerAnswer(op, Error: r.String(64 * 1024));
                    break;
                case LedgerOperation.CreateAccount:
                    answer = new LedgerAnswer(op, AccountResult: (CreateAccountResult)r.U16());
                    break;
                case LedgerOperation.CloseAccount:
                    answer = new LedgerAnswer(op, CloseResult: (CloseAccountResult)r.U16());
                    break;
                case LedgerOperation.CreateTransfers:
                    answer = new LedgerAnswer(op, TransferResults: LedgerCodec.ReadTransferResults(ref r));
                    break;
                case LedgerOperation.LookupAccount:
                    answer = new LedgerAnswer(op, Account: r.Bool() ? LedgerCodec.ReadAccount(ref r) : null);
                    break;
                case LedgerOperation.LookupTransfer:
                    if (r.Bool())
                    {
                        var t = LedgerCodec.ReadTransfer(ref r);
                        answer = new LedgerAnswer(op, Transfer: t, TransferResult: (CreateTransferResult)r.U16());
                    }
                    else
                    {
                        answer = new LedgerAnswer(op);
                    }

                    break;
                case LedgerOperation.AccountHistory:
                    var n = r.Count((int)LedgerRequest.MaxHistoryPage);
                    var entries = new HistoryEntry[n];
                    for (var i = 0; i < n; i++)
                    {
                        entries[i] = LedgerCodec.ReadHistoryEntry(ref r);
                    }

                    answer = new LedgerAnswer(op, History: entries, NextCursor: r.U64());
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

    private static byte[] Code(LedgerOperation op, ushort code)
    {
        var w = new CanonicalWriter(3);
        w.U8((byte)op);
        w.U16(code);
        return w.Detach();
    }
}
