using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;
using Heraclius.Ledger.Shard;
using static Heraclius.Ledger.Tests.Shard.ShardKit;

namespace Heraclius.Ledger.Tests.Shard;

public sealed class ShardAuditTests
{
    [Fact]
    public void Every_record_kind_round_trips_and_account_and_transfer_bytes_are_the_wire_codecs()
    {
        var account = new Account(5, 2, 3, 4, AccountFlags.History, 6, 7, 8, 9, 10);
        var transfer = new Transfer(11, 12, 13, 14, 15, 16, 17, 18, 19, TransferFlags.Pending, 20);
        var posting = new AuditPosting(21, 22, TransferSide.Credit, TransferMovement.Released, 23, 24, 25, 26, 27, 28);
        AuditRecord[] records =
        [
            new(AuditRecordKind.AccountCreated, Account: account),
            new(AuditRecordKind.AccountClosed, AccountId: 5, Timestamp: 99),
            new(AuditRecordKind.Posting, Posting: posting),
            new(AuditRecordKind.TransferResult, Transfer: transfer, Result: CreateTransferResult.ExceedsCredits),
        ];
        foreach (var record in records)
        {
            var bytes = record.Encode();
            Assert.True(AuditRecord.TryParse(bytes, out var parsed));
            Assert.Equal(record, parsed);
            Assert.False(AuditRecord.TryParse(bytes.AsSpan(0, bytes.Length - 1), out _));
            Assert.False(AuditRecord.TryParse([.. bytes, 0], out _));
        }

        var w = new Heraclius.KvStore.Encoding.CanonicalWriter();
        LedgerCodec.WriteAccount(w, account);
        Assert.Equal(w.ToArray(), AuditRecord.EncodeAccountCreated(account)[1..]);
        w.Clear();
        LedgerCodec.WriteTransfer(w, transfer);
        Assert.Equal(w.ToArray(), AuditRecord.EncodeTransferResult(transfer, CreateTransferResult.Ok)[1..^2]);
        Assert.False(AuditRecord.TryParse([], out _));
        Assert.False(AuditRecord.TryParse([9, 1, 2], out _));
        var badMovement = AuditRecord.EncodePosting(posting);
        badMovement[34] = 8;
        Assert.False(AuditRecord.TryParse(badMovement, out _));
    }

    [Fact]
    public void Replaying_the_audit_records_gives_every_balance_and_every_final_result()
    {
        var kit = new ShardKit();
        kit.Accounts(5, 6, 7);
        kit.Fund(5, 1000);
        kit.Fund(6, 500);
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(10, 5, 6, 30)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(11, 5, 7, 100, TransferFlags.Pending, timeout: 5)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(12, 5, 7, 40, TransferFlags.PostPending, pendingId: 11)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(13, 6, 7, 50, TransferFlags.Pending, timeout: 1)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(14, 6, 5, 20, TransferFlags.Pending)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(15, 6, 5, 0, TransferFlags.VoidPending, pendingId: 14)));
        Assert.Equal([CreateTransferResult.ExceedsCredits], kit.Apply(T(16, 7, 5, 1000)));
        Assert.True(kit.Ledger.Prepare("c0", 1, Chain(T(17, 5, 6, 10), T(18, 6, 7, 10, TransferFlags.Pending, timeout: 3)), kit.Now).Prepared);
        Assert.True(kit.Ledger.Prepare("c0", 2, [T(19, 7, 6, 10)], kit.Now).Prepared);
        Assert.True(kit.Ledger.Prepare("c0", 3, [T(20, 6, 7, 0, TransferFlags.VoidPending, pendingId: 13)], kit.Now).Prepared);
        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.True(kit.Ledger.Abort("c0", 2, [CreateTransferResult.ExceedsDebits], kit.Now));
        Assert.True(kit.Ledger.Abort("c0", 3, [CreateTransferResult.LinkedEventFailed], kit.Now));
        kit.Ledger.RunTimers(kit.Now + 1000);
        Assert.Equal(CloseAccountResult.AccountHasPending, kit.Ledger.CloseAccount(7, kit.Now));
        kit.Ledger.RunTimers(kit.Now + 10_000);
        Assert.Equal(CloseAccountResult.Ok, kit.Ledger.CloseAccount(7, kit.Now));

        var balances = new Dictionary<UInt128, Account>();
        var results = new Dictionary<UInt128, CreateTransferResult>();
        var closed = new HashSet<UInt128>();
        foreach (var bytes in kit.Audit)
        {
            Assert.True(AuditRecord.TryParse(bytes, out var record));
            switch (record.Kind)
            {
                case AuditRecordKind.AccountCreated:
                    balances.Add(record.Account.Id, record.Account);
                    break;
                case AuditRecordKind.AccountClosed:
                    Assert.True(closed.Add(record.AccountId));
                    break;
                case AuditRecordKind.TransferResult:
                    Assert.True(results.TryAdd(record.Transfer.Id, record.Result));
                    break;
                case AuditRecordKind.Posting:
                    var p = record.Posting;
                    var a = balances[p.AccountId];
                    var debit = p.Side == TransferSide.Debit;
                    var (pending, posted) = debit ? (a.DebitsPending, a.DebitsPosted) : (a.CreditsPending, a.CreditsPosted);
                    (pending, posted) = p.Movement switch
                    {
                        TransferMovement.Posted => (pending, posted + p.Amount),
                        TransferMovement.PendingHold or TransferMovement.Reserved => (pending + p.Amount, posted),
                        TransferMovement.PendingPosted => (pending - p.Amount, posted + p.Amount),
                        _ => (pending - p.Amount, posted),
                    };
                    a = debit ? a with { DebitsPending = pending, DebitsPosted = posted } : a with { CreditsPending = pending, CreditsPosted = posted };
                    Assert.Equal((a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted), (p.DebitsPending, p.DebitsPosted, p.CreditsPending, p.CreditsPosted));
                    balances[p.AccountId] = a;
                    break;
            }
        }

        foreach (var (id, replayed) in balances)
        {
            var actual = kit.Get(id);
            Assert.Equal(actual with { Flags = actual.Flags & ~AccountFlags.Closed }, replayed);
            Assert.Equal(actual.IsClosed, closed.Contains(id));
        }

        foreach (var (id, result) in results)
        {
            Assert.True(kit.Ledger.TryLookupTransfer(id, out _, out var stored));
            Assert.Equal(stored, result);
        }

        Assert.Equal(CreateTransferResult.ExceedsDebits, results[19]);
        Assert.False(results.ContainsKey(20));
        Assert.Equal(12, results.Count);
    }
}
