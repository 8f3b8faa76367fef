using CsCheck;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Shard;
using Heraclius.Ledger.Tests.Reference;

namespace Heraclius.Ledger.Tests.Shard;

/// <summary>The shard engine against the reference ledger: every account on one shard (the one-round Apply path), and split over two shards (2PC).</summary>
public sealed class ShardEngineConformanceTests
{
    /// <summary>One shard holding every account: each chain is one Apply.</summary>
    private sealed class OneShard : ILedgerUnderTest
    {
        private readonly ShardKit _kit = new() { Now = 0 };

        public void AdvanceTo(ulong timestampMs)
        {
            _kit.Now = timestampMs;
            _kit.Ledger.RunTimers(timestampMs);
        }

        public CreateAccountResult CreateAccount(Account account) => _kit.Ledger.CreateAccount(account, _kit.Now);

        public IReadOnlyList<CreateTransferResult> CreateTransfers(IReadOnlyList<Transfer> chain)
        {
            CheckShape(chain);
            return _kit.Ledger.Apply(chain, _kit.Now);
        }

        public CloseAccountResult CloseAccount(UInt128 id) => _kit.Ledger.CloseAccount(id, _kit.Now);

        public Account? LookupAccount(UInt128 id) => _kit.Ledger.LookupAccount(id);

        public (Transfer Transfer, CreateTransferResult Result)? LookupTransfer(UInt128 id) =>
            _kit.Ledger.TryLookupTransfer(id, out var t, out var r) ? (t, r) : null;

        public IReadOnlyList<Account> AllAccounts() => Accounts(_kit);
    }

    /// <summary>
    /// Two shards (odd and even ids, of accounts and of transfers alike) and a minimal coordinator: a chain
    /// whose ids and accounts are all on one shard is an Apply there, any other a Prepare to both, the coordinator's combination of the votes
    /// (smallest refused leg, smallest code, accounts_must_have_the_same_ledger when that leg's two ledgers
    /// differ), then Commit or Abort to both.
    /// </summary>
    private sealed class TwoShards : ILedgerUnderTest
    {
        private readonly ShardKit[] _shards =
        [
            new(ShardPlacement.Where(id => id % 2 == 0)) { Now = 0 },
            new(ShardPlacement.Where(id => id % 2 == 1)) { Now = 0 },
        ];

        private ulong _txn;

        private ShardKit Of(UInt128 account) => _shards[(int)(account % 2)];

        public void AdvanceTo(ulong timestampMs)
        {
            foreach (var s in _shards)
            {
                s.Now = timestampMs;
                s.Ledger.RunTimers(timestampMs);
            }
        }

        public CreateAccountResult CreateAccount(Account account) => Of(account.Id).Ledger.CreateAccount(account, _shards[0].Now);

        public IReadOnlyList<CreateTransferResult> CreateTransfers(IReadOnlyList<Transfer> chain)
        {
            CheckShape(chain);
            var now = _shards[0].Now;
            var failed = TransferValidation.CheckChain(chain, out var stateless);
            if (failed >= 0)
            {
                return Failed(chain.Count, failed, stateless);
            }

            var evens = chain.All(t => t.Id % 2 == 0 && t.DebitAccountId % 2 == 0 && t.CreditAccountId % 2 == 0);
            var odds = chain.All(t => t.Id % 2 == 1 && t.DebitAccountId % 2 == 1 && t.CreditAccountId % 2 == 1);
            if (evens || odds)
            {
                return _shards[evens ? 0 : 1].Ledger.Apply(chain, now);
            }

            var txn = ++_txn;
            var votes = _shards.Select(s => s.Ledger.Prepare("c0", txn, chain, now)).ToArray();
            if (votes.All(v => v.Prepared))
            {
                foreach (var s in _shards)
                {
                    Assert.True(s.Ledger.Commit("c0", txn, now));
                }

                return new CreateTransferResult[chain.Count];
            }

            var leg = votes.Where(v => !v.Prepared).Min(v => v.FailedLeg);
            var codes = votes.Where(v => !v.Prepared && v.FailedLeg == leg).Select(v => v.Code).ToList();

            // A shard that found no half of the pending transfer yields to one that found it (design).
            if (codes.Count > 1 && codes.Any(c => c != CreateTransferResult.PendingTransferNotFound))
            {
                codes.RemoveAll(c => c == CreateTransferResult.PendingTransferNotFound);
            }

            var code = codes.Min();
            var debitLedger = votes.Where(v => v.Ledgers.Length > leg).Max(v => v.Ledgers[leg].Debit);
            var creditLedger = votes.Where(v => v.Ledgers.Length > leg).Max(v => v.Ledgers[leg].Credit);
            if (debitLedger != 0 && creditLedger != 0 && debitLedger != creditLedger && code > CreateTransferResult.AccountsMustHaveTheSameLedger)
            {
                code = CreateTransferResult.AccountsMustHaveTheSameLedger;
            }

            var results = Failed(chain.Count, leg, code);
            foreach (var s in _shards)
            {
                Assert.True(s.Ledger.Abort("c0", txn, results, now));
            }

            return results;
        }

        public CloseAccountResult CloseAccount(UInt128 id) => Of(id).Ledger.CloseAccount(id, _shards[0].Now);

        public Account? LookupAccount(UInt128 id) => Of(id).Ledger.LookupAccount(id);

        public (Transfer Transfer, CreateTransferResult Result)? LookupTransfer(UInt128 id) =>
            Of(id).Ledger.TryLookupTransfer(id, out var t, out var r) ? (t, r) : null;

        /// <summary>Every TransferResult audit record, from both shards: one per stored id.</summary>
        public IEnumerable<byte[]> Audit => _shards.SelectMany(s => s.Audit);

        public IReadOnlyList<Account> AllAccounts() => [.. _shards.SelectMany(Accounts).OrderBy(a => a.Id)];

        private static CreateTransferResult[] Failed(int count, int leg, CreateTransferResult code)
        {
            var results = Enumerable.Repeat(CreateTransferResult.LinkedEventFailed, count).ToArray();
            results[leg] = code;
            return results;
        }
    }

    private static void CheckShape(IReadOnlyList<Transfer> chain)
    {
        if (chain.Count is 0 or > ShardLedger.MaxChainLength)
        {
            throw new ArgumentException($"a chain has 1 to {ShardLedger.MaxChainLength} legs", nameof(chain));
        }

        for (var i = 0; i < chain.Count - 1; i++)
        {
            if (!chain[i].IsLinked)
            {
                throw new ArgumentException($"leg {i} is not linked but is not the last", nameof(chain));
            }
        }
    }

    private static List<Account> Accounts(ShardKit kit) =>
        [.. kit.State.WithPrefix(0x11).Select(kv => kit.Ledger.LookupAccount(System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(kv.Key.AsSpan(1)))!.Value).OrderBy(a => a.Id)];

    [Fact]
    public void The_one_round_path_agrees_with_the_reference_ledger() =>
        LedgerScenarioGen.Scenarios.Sample(ops => ModelConformance.Run(new OneShard(), ops, compareTimestamps: true), iter: 300);

    [Fact]
    public void Two_phase_commit_over_two_shards_agrees_with_the_reference_ledger() =>
        LedgerScenarioGen.Scenarios.Sample(
            ops =>
            {
                var ledger = new TwoShards();
                ModelConformance.Run(ledger, ops, compareTimestamps: true);
                var results = ledger.Audit.Select(b => Heraclius.Ledger.Shard.AuditRecord.TryParse(b, out var r) ? r : default)
                    .Where(r => r.Kind == Heraclius.Ledger.Shard.AuditRecordKind.TransferResult).Select(r => r.Transfer.Id).ToList();
                Assert.Equal(results.Count, results.Distinct().Count());
            },
            iter: 300);
}
