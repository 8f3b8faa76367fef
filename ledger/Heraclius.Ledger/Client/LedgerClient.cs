using Heraclius.KvStore.Client;
using Heraclius.KvStore.Topology;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;

namespace Heraclius.Ledger.Client;

/// <summary>
/// Typed ledger operations over BFT clients of the coordinators (one per coordinator cluster): a
/// transfer chain goes to its home coordinator, everything else to the first. Answers come only from
/// compact decisions the BFT client verified. A request refused as <c>overloaded</c>, <c>window_full</c>
/// or <c>request_too_old</c> is sent again under a new request id after a short back-off: transfer and
/// account ids are the idempotency keys, so a repeat can never execute twice.
/// </summary>
public sealed class LedgerClient
{
    private readonly IReadOnlyDictionary<string, BftClient> _coordinators;
    private readonly HomeCoordinator _home;
    private readonly BftClient _any;

    public LedgerClient(ClusterTopology topology, IReadOnlyDictionary<string, BftClient> coordinators)
    {
        ArgumentNullException.ThrowIfNull(coordinators);
        _home = new HomeCoordinator(topology);
        var missing = _home.Coordinators.Where(c => !coordinators.ContainsKey(c)).ToList();
        if (missing.Count > 0)
        {
            throw new ArgumentException($"no client for coordinator(s) {string.Join(", ", missing)}", nameof(coordinators));
        }

        _coordinators = coordinators;
        _any = coordinators[_home.Coordinators[0]];
    }

    /// <summary>Back-off before a request refused as overloaded is sent again.</summary>
    public TimeSpan OverloadBackoff { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Requests sent again after an overloaded or window-full refusal.</summary>
    public long Resent => Interlocked.Read(ref _resent);

    private long _resent;

    public async Task<CreateAccountResult> CreateAccountAsync(Account account, CancellationToken ct = default) =>
        (await SendAsync(_any, LedgerRequest.CreateAccount(account), LedgerOperation.CreateAccount, ct)).AccountResult;

    public async Task<CloseAccountResult> CloseAccountAsync(UInt128 id, CancellationToken ct = default) =>
        (await SendAsync(_any, LedgerRequest.CloseAccount(id), LedgerOperation.CloseAccount, ct)).CloseResult;

    /// <summary>One transfer, or one linked chain (every leg but the last flagged linked): one result per leg.</summary>
    public async Task<CreateTransferResult[]> CreateTransfersAsync(IReadOnlyList<Transfer> chain, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Count == 0)
        {
            throw new ArgumentException("a chain has at least one transfer", nameof(chain));
        }

        var client = _coordinators[_home.Of(chain[0].Id)];
        return (await SendAsync(client, LedgerRequest.CreateTransfers(chain), LedgerOperation.CreateTransfers, ct)).TransferResults!;
    }

    public async Task<Account?> LookupAccountAsync(UInt128 id, CancellationToken ct = default) =>
        (await SendAsync(_any, LedgerRequest.LookupAccount(id), LedgerOperation.LookupAccount, ct)).Account;

    public async Task<(Transfer Transfer, CreateTransferResult Result)?> LookupTransferAsync(UInt128 id, CancellationToken ct = default)
    {
        var answer = await SendAsync(_any, LedgerRequest.LookupTransfer(id), LedgerOperation.LookupTransfer, ct);
        return answer.Transfer is { } t ? (t, answer.TransferResult) : null;
    }

    /// <summary>Up to <paramref name="limit"/> history entries after cursor <paramref name="after"/>, and the next cursor (0 at the end).</summary>
    public async Task<(HistoryEntry[] Entries, ulong Next)> HistoryAsync(UInt128 accountId, ulong after, uint limit, CancellationToken ct = default)
    {
        var answer = await SendAsync(_any, LedgerRequest.AccountHistory(accountId, after, limit), LedgerOperation.AccountHistory, ct);
        return (answer.History!, answer.NextCursor);
    }

    private async Task<LedgerAnswer> SendAsync(BftClient client, byte[] request, LedgerOperation expected, CancellationToken ct)
    {
        while (true)
        {
            var reply = await client.SendAsync(request, ct);
            switch (reply.Status)
            {
                case ReplyStatus.Executed:
                    if (!LedgerAnswer.TryParse(reply.Result, out var answer))
                    {
                        throw new LedgerClientException($"the coordinator answered bytes that are not a ledger answer ({reply.Result.Length} bytes)");
                    }

                    if (answer.Operation == LedgerOperation.Malformed)
                    {
                        throw new LedgerClientException($"malformed request: {answer.Error}");
                    }

                    if (answer.Operation != expected)
                    {
                        throw new LedgerClientException($"asked {expected}, answered {answer.Operation}");
                    }

                    return answer;
                case ReplyStatus.Overloaded:
                case ReplyStatus.WindowFull:
                case ReplyStatus.RequestTooOld:
                    // Every ledger request is idempotent by its own ids (a transfer id answers its first
                    // result, an account id `exists`, lookups read), so even "too old" — which may or may
                    // not have run — is safe to send again under a new request id.
                    Interlocked.Increment(ref _resent);
                    await Task.Delay(OverloadBackoff, ct);
                    continue;
                default:
                    throw new LedgerClientException(reply.Status, $"the coordinator refused the request: {reply.Status}");
            }
        }
    }
}
