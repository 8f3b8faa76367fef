using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Tests.Reference;

/// <summary>
/// Runs a scenario on a fresh <see cref="ReferenceLedger"/> and on an implementation, and fails at the first
/// difference, naming the operation.
/// <para>
/// Timestamps are not compared by default: the model stamps everything with the last
/// <see cref="ILedgerUnderTest.AdvanceTo"/> time, while an engine stamps with its decisions' times, which
/// need not equal it (decisions may have to be strictly increasing). Pass <c>compareTimestamps: true</c>
/// for an implementation that uses the same times. History is not compared (sequences are per shard and
/// <see cref="ILedgerUnderTest"/> has no history call).
/// </para>
/// </summary>
public static class ModelConformance
{
    /// <summary>
    /// After every operation: the same results, and the same state of the accounts it named (every account
    /// after a time advance, which may expire holds). At the end: the same accounts (by lookup of every id
    /// seen, and the same <see cref="ILedgerUnderTest.AllAccounts"/>), the same stored transfer for every
    /// transfer and pending id seen, and the implementation's accounts keep the balance invariants.
    /// </summary>
    public static void Run(ILedgerUnderTest subject, IReadOnlyList<LedgerOp> ops, bool compareTimestamps = false)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(ops);
        var model = new ReferenceLedger();
        var accountIds = new SortedSet<UInt128>();
        var transferIds = new SortedSet<UInt128>();
        for (var i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            string Where() => $"op {i} {op}";
            switch (op)
            {
                case AdvanceToOp advance:
                    model.AdvanceTo(advance.TimestampMs);
                    subject.AdvanceTo(advance.TimestampMs);
                    foreach (var account in model.AllAccounts())
                    {
                        CompareAccount(model, subject, account.Id, compareTimestamps, Where);
                    }

                    break;

                case CreateAccountOp create:
                    accountIds.Add(create.Account.Id);
                    Same(model.CreateAccount(create.Account), subject.CreateAccount(create.Account), Where, "result");
                    CompareAccount(model, subject, create.Account.Id, compareTimestamps, Where);
                    break;

                case CloseAccountOp close:
                    accountIds.Add(close.AccountId);
                    Same(model.CloseAccount(close.AccountId), subject.CloseAccount(close.AccountId), Where, "result");
                    CompareAccount(model, subject, close.AccountId, compareTimestamps, Where);
                    break;

                case CreateTransfersOp transfers:
                    var expected = model.CreateTransfers(transfers.Chain);
                    var actual = subject.CreateTransfers(transfers.Chain);
                    if (!expected.SequenceEqual(actual))
                    {
                        Assert.Fail($"{Where()}: results [{string.Join(", ", actual)}], the model answers [{string.Join(", ", expected)}]");
                    }

                    foreach (var t in transfers.Chain)
                    {
                        transferIds.Add(t.Id);
                        transferIds.Add(t.PendingId);
                        foreach (var id in (UInt128[])[t.DebitAccountId, t.CreditAccountId])
                        {
                            accountIds.Add(id);
                            CompareAccount(model, subject, id, compareTimestamps, Where);
                        }
                    }

                    // A post's or void's effects land on the pending transfer's accounts, which the leg may misname.
                    foreach (var id in transfers.Chain.Select(t => model.LookupTransfer(t.PendingId)).OfType<(Transfer Transfer, CreateTransferResult Result)>()
                                 .SelectMany(p => (UInt128[])[p.Transfer.DebitAccountId, p.Transfer.CreditAccountId]))
                    {
                        CompareAccount(model, subject, id, compareTimestamps, Where);
                    }

                    break;

                default:
                    throw new ArgumentException($"Unknown operation {op}", nameof(ops));
            }
        }

        string End() => $"after all {ops.Count} ops";
        foreach (var id in accountIds)
        {
            CompareAccount(model, subject, id, compareTimestamps, End);
        }

        var modelAccounts = model.AllAccounts();
        var subjectAccounts = subject.AllAccounts();
        Same(string.Join(",", modelAccounts.Select(a => a.Id)), string.Join(",", subjectAccounts.Select(a => a.Id)), End, "AllAccounts ids");
        foreach (var account in modelAccounts)
        {
            CompareAccount(model, subject, account.Id, compareTimestamps, End);
        }

        foreach (var id in transferIds.Union(model.AllTransferIds()))
        {
            var expected = model.LookupTransfer(id);
            var actual = subject.LookupTransfer(id);
            if (expected is null || actual is null)
            {
                Same(expected is null, actual is null, End, $"transfer {id} is absent");
                continue;
            }

            var (expectedTransfer, expectedResult) = expected.Value;
            var (actualTransfer, actualResult) = actual.Value;
            Same(expectedResult, actualResult, End, $"transfer {id} result");
            if (!compareTimestamps)
            {
                actualTransfer = actualTransfer with { Timestamp = expectedTransfer.Timestamp };
            }

            Same(expectedTransfer, actualTransfer, End, $"transfer {id}");
        }

        var violations = ReferenceLedger.BalanceViolations(subjectAccounts);
        if (violations.Count > 0)
        {
            Assert.Fail($"{End()}: the implementation breaks invariants: {string.Join("; ", violations)}");
        }
    }

    private static void CompareAccount(ReferenceLedger model, ILedgerUnderTest subject, UInt128 id, bool compareTimestamps, Func<string> where)
    {
        var expected = model.LookupAccount(id);
        var actual = subject.LookupAccount(id);
        if (expected is { } e && actual is { } a && !compareTimestamps)
        {
            actual = a with { Timestamp = e.Timestamp };
        }

        Same(expected, actual, where, $"account {id}");
    }

    private static void Same<T>(T expected, T actual, Func<string> where, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            Assert.Fail($"{where()}: {what} is {Show(actual)}, the model has {Show(expected)}");
        }
    }

    private static string Show<T>(T value) => value switch
    {
        null => "absent",
        Transfer t => CreateTransfersOp.Describe(t),
        _ => value.ToString() ?? "null",
    };
}
