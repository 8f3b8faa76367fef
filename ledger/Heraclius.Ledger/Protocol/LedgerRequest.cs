using Heraclius.KvStore.Encoding;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Protocol;

/// <summary>
/// One client request (one operation): u8 operation ‖ body, see docs/design.md "Client operations".
/// Only the fields of its operation are set.
/// </summary>
public sealed record LedgerRequest(
    LedgerOperation Operation,
    Account Account = default,
    Transfer[]? Chain = null,
    UInt128 Id = default,
    ulong After = 0,
    uint Limit = 0)
{
    /// <summary>Most transfers in one linked chain (one request).</summary>
    public const int MaxChainLength = 64;

    /// <summary>Most history entries in one page.</summary>
    public const uint MaxHistoryPage = 1000;

    public static byte[] CreateAccount(in Account account)
    {
        var w = new CanonicalWriter(1 + LedgerCodec.AccountSize);
        w.U8((byte)LedgerOperation.CreateAccount);
        LedgerCodec.WriteAccount(w, account);
        return w.Detach();
    }

    public static byte[] CreateTransfers(IReadOnlyList<Transfer> chain)
    {
        var w = new CanonicalWriter(1 + 4 + (chain.Count * LedgerCodec.TransferSize));
        w.U8((byte)LedgerOperation.CreateTransfers);
        LedgerCodec.WriteChain(w, chain);
        return w.Detach();
    }

    public static byte[] LookupAccount(UInt128 id) => IdOperation(LedgerOperation.LookupAccount, id);

    public static byte[] LookupTransfer(UInt128 id) => IdOperation(LedgerOperation.LookupTransfer, id);

    public static byte[] CloseAccount(UInt128 id) => IdOperation(LedgerOperation.CloseAccount, id);

    public static byte[] AccountHistory(UInt128 accountId, ulong after, uint limit)
    {
        var w = new CanonicalWriter(1 + 16 + 8 + 4);
        w.U8((byte)LedgerOperation.AccountHistory);
        LedgerCodec.WriteId(w, accountId);
        w.U64(after);
        w.U32(limit);
        return w.Detach();
    }

    /// <summary>Parses request bytes; false with a reason for anything malformed (unknown operation, wrong length, empty or oversized chain, history limit 0 or above the page size).</summary>
    public static bool TryParse(ReadOnlySpan<byte> bytes, out LedgerRequest request, out string error) => TryParse(bytes, out request, out error, null);

    /// <summary><see cref="TryParse(ReadOnlySpan{byte}, out LedgerRequest, out string)"/>, a one-leg chain parsed into <paramref name="chainBuffer"/> (<see cref="ChainScratch"/>).</summary>
    internal static bool TryParse(ReadOnlySpan<byte> bytes, out LedgerRequest request, out string error, Transfer[]? chainBuffer)
    {
        request = null!;
        error = string.Empty;
        try
        {
            var r = new CanonicalReader(bytes);
            var op = (LedgerOperation)r.U8();
            switch (op)
            {
                case LedgerOperation.CreateAccount:
                    request = new LedgerRequest(op, Account: LedgerCodec.ReadAccount(ref r));
                    break;
                case LedgerOperation.CreateTransfers:
                    request = new LedgerRequest(op, Chain: LedgerCodec.ReadChain(ref r, chainBuffer));
                    break;
                case LedgerOperation.LookupAccount:
                case LedgerOperation.LookupTransfer:
                case LedgerOperation.CloseAccount:
                    request = new LedgerRequest(op, Id: LedgerCodec.ReadId(ref r));
                    break;
                case LedgerOperation.AccountHistory:
                    var id = LedgerCodec.ReadId(ref r);
                    var after = r.U64();
                    var limit = r.U32();
                    if (limit == 0 || limit > MaxHistoryPage)
                    {
                        error = $"history limit must be 1..{MaxHistoryPage}";
                        return false;
                    }

                    request = new LedgerRequest(op, Id: id, After: after, Limit: limit);
                    break;
                default:
                    error = $"unknown ledger operation {(byte)op}";
                    return false;
            }

            r.End();
            return true;
        }
        catch (MalformedMessageException e)
        {
            error = e.Message;
            return false;
        }
    }

    private static byte[] IdOperation(LedgerOperation op, UInt128 id)
    {
        var w = new CanonicalWriter(17);
        w.U8((byte)op);
        LedgerCodec.WriteId(w, id);
        return w.Detach();
    }
}
