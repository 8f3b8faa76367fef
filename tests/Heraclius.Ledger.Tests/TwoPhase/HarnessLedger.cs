using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;
using Heraclius.Ledger.Tests.Reference;

namespace Heraclius.Ledger.Tests.TwoPhase;

/// <summary>
/// The coordinator and its shards as an <see cref="ILedgerUnderTest"/>: each call is one client request
/// submitted to the coordinator and delivered until nothing moves, so it has finished everywhere before
/// the next one starts.
/// </summary>
internal sealed class HarnessLedger : ILedgerUnderTest
{
    private readonly LedgerHarness _harness;
    private readonly SortedSet<UInt128> _accountIds = [];

    public HarnessLedger(LedgerHarness harness)
    {
        _harness = harness;
    }

    public void AdvanceTo(ulong timestampMs)
    {
        _harness.Now = Math.Max(_harness.Now, timestampMs);
        _harness.Tick();
        _harness.RunToQuiescence();
    }

    public CreateAccountResult CreateAccount(Account account)
    {
        _accountIds.Add(account.Id);
        return Ask(LedgerRequest.CreateAccount(account)).AccountResult;
    }

    public IReadOnlyList<CreateTransferResult> CreateTransfers(IReadOnlyList<Transfer> chain)
    {
        var answer = Ask(LedgerRequest.CreateTransfers(chain));
        return answer.Operation == LedgerOperation.Malformed
            ? throw new ArgumentException($"the coordinator refused the request as malformed: {answer.Error}", nameof(chain))
            : answer.TransferResults!;
    }

    public CloseAccountResult CloseAccount(UInt128 id) => Ask(LedgerRequest.CloseAccount(id)).CloseResult;

    public Account? LookupAccount(UInt128 id) => Ask(LedgerRequest.LookupAccount(id)).Account;

    public (Transfer Transfer, CreateTransferResult Result)? LookupTransfer(UInt128 id)
    {
        var answer = Ask(LedgerRequest.LookupTransfer(id));
        return answer.Transfer is { } t ? (t, answer.TransferResult) : null;
    }

    /// <summary>Every account ever asked to be created that exists, in id order (the shards are asked through the coordinator).</summary>
    public IReadOnlyList<Account> AllAccounts()
    {
        var accounts = new List<Account>();
        foreach (var id in _accountIds)
        {
            if (LookupAccount(id) is { } account)
            {
                accounts.Add(account);
            }
        }

        return accounts;
    }

    private LedgerAnswer Ask(byte[] request)
    {
        var answer = LedgerWorld.Parse(_harness.Run(request));
        if (_harness.Anomalies.Count > 0)
        {
            throw new InvalidOperationException(string.Join("; ", _harness.Anomalies));
        }

        return answer;
    }
}
