using Heraclius.KvStore.Routing;
using Heraclius.KvStore.StateMachine;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;
using ExecutionContext = Heraclius.KvStore.StateMachine.ExecutionContext;

namespace Heraclius.Ledger.Tests.TwoPhase;

/// <summary>
/// A small shard for exercising the coordinator alone: plain posted transfers with the account checks a
/// 2PC vote needs (not found, ledgers, debits_must_not_exceed_credits), reservations keyed by
/// (coordinator, txn), Commit/Abort from anyone else ignored. Its state lives in fields: it is a test
/// double, not a replicated service.
/// </summary>
internal sealed class StubShard : IReplicatedService
{
    private readonly string _id;
    private readonly ShardRouter _router;
    private readonly SortedDictionary<UInt128, Account> _accounts = [];
    private readonly Dictionary<UInt128, (Transfer Transfer, CreateTransferResult Result)> _transfers = [];
    private readonly Dictionary<(string Coordinator, ulong Txn), Transfer[]> _prepared = [];
    private readonly Dictionary<(string Coordinator, ulong Txn), Transfer[]> _refused = [];

    public StubShard(ShardRouter router, string id)
    {
        _router = router;
        _id = id;
    }

    /// <summary>Prepares received, including repeats (a test reads how often a shard was asked).</summary>
    public int PreparesReceived { get; private set; }

    public IReadOnlyDictionary<(string Coordinator, ulong Txn), Transfer[]> Prepared => _prepared;

    public IEnumerable<Account> Accounts => _accounts.Values;

    public RequestOutcome ExecuteRequest(IStateAccess state, in ExecutionContext context, ReadOnlySpan<byte> operation, IServiceOutputs outputs) =>
        RequestOutcome.Answered(LedgerAnswer.Malformed("shards take no client requests"));

    public void ExecuteMessage(IStateAccess state, in MessageContext context, ReadOnlySpan<byte> message, IServiceOutputs outputs)
    {
        if (!ShardMessage.TryParse(message, out var m))
        {
            return;
        }

        var from = context.SourceCluster;
        switch (m.Kind)
        {
            case ShardMessageKind.Forward:
                outputs.Send(from, ShardMessage.Answer(m.Ref, Forwarded(m.Bytes!)));
                break;
            case ShardMessageKind.Apply:
                var (leg, code, _) = Evaluate(m.Chain!, posted: true);
                var results = leg < 0 ? new CreateTransferResult[m.Chain!.Length] : Fail(m.Chain!.Length, leg, code);
                if (leg < 0)
                {
                    foreach (var t in m.Chain!)
                    {
                        Move(t, posted: true, sign: 1);
                        _transfers[t.Id] = (t, CreateTransferResult.Ok);
                    }
                }

                outputs.Send(from, ShardMessage.Applied(m.Ref, results));
                break;
            case ShardMessageKind.Prepare:
                PreparesReceived++;
                if (_prepared.ContainsKey((from, m.Txn)) || _refused.ContainsKey((from, m.Txn)))
                {
                    break;
                }

                var (failed, failedCode, ledgers) = Evaluate(m.Chain!, posted: false);
                if (failed >= 0)
                {
                    _refused.Add((from, m.Txn), m.Chain!);
                    outputs.Send(from, ShardMessage.VoteMessage(m.Txn, ShardVote.No(failed, failedCode, ledgers[..(failed + 1)])));
                    break;
                }

                foreach (var t in m.Chain!)
                {
                    Move(t, posted: false, sign: 1);
                }

                _prepared.Add((from, m.Txn), m.Chain!);
                outputs.Send(from, ShardMessage.VoteMessage(m.Txn, ShardVote.Yes(ledgers)));
                break;
            case ShardMessageKind.Commit:
            case ShardMessageKind.Abort:
                if (m.Kind == ShardMessageKind.Abort && _refused.Remove((from, m.Txn)))
                {
                    outputs.Send(from, ShardMessage.Ack(m.Txn));
                    break;
                }

                if (!_prepared.Remove((from, m.Txn), out var chain))
                {
                    break;
                }

                for (var i = 0; i < chain.Length; i++)
                {
                    Move(chain[i], posted: false, sign: -1);
                    if (m.Kind == ShardMessageKind.Commit)
                    {
                        Move(chain[i], posted: true, sign: 1);
                    }

                    _transfers[chain[i].Id] = (chain[i], m.Kind == ShardMessageKind.Commit ? CreateTransferResult.Ok : m.Results![i]);
                }

                outputs.Send(from, ShardMessage.Ack(m.Txn));
                break;
        }
    }

    private static CreateTransferResult[] Fail(int legs, int leg, CreateTransferResult code)
    {
        var results = Enumerable.Repeat(CreateTransferResult.LinkedEventFailed, legs).ToArray();
        results[leg] = code;
        return results;
    }

    private byte[] Forwarded(byte[] request)
    {
        if (!LedgerRequest.TryParse(request, out var r, out var error))
        {
            return LedgerAnswer.Malformed(error);
        }

        switch (r.Operation)
        {
            case LedgerOperation.CreateAccount:
                if (_accounts.ContainsKey(r.Account.Id))
                {
                    return LedgerAnswer.CreateAccount(CreateAccountResult.Exists);
                }

                var flags = r.Account.Flags;
                if (!r.Account.IsIssuance && (flags & (AccountFlags.DebitsMustNotExceedCredits | AccountFlags.CreditsMustNotExceedDebits)) == 0)
                {
                    flags |= AccountFlags.DebitsMustNotExceedCredits;
                }

                _accounts.Add(r.Account.Id, r.Account with { Flags = flags });
                return LedgerAnswer.CreateAccount(CreateAccountResult.Ok);
            case LedgerOperation.LookupAccount:
                return LedgerAnswer.LookupAccount(_accounts.TryGetValue(r.Id, out var a) ? a : null);
            case LedgerOperation.LookupTransfer:
                return _transfers.TryGetValue(r.Id, out var t) ? LedgerAnswer.LookupTransfer(t.Transfer, t.Result) : LedgerAnswer.LookupTransfer(null, CreateTransferResult.Ok);
            case LedgerOperation.CloseAccount:
                return LedgerAnswer.CloseAccount(_accounts.ContainsKey(r.Id) ? CloseAccountResult.Ok : CloseAccountResult.AccountNotFound);
            default:
                return LedgerAnswer.AccountHistory([], 0);
        }
    }

    /// <summary>The first failing leg (sides held here, earlier legs counted) and its smallest code, or −1; nothing is changed.</summary>
    private (int Leg, CreateTransferResult Code, LegLedgers[] Ledgers) Evaluate(Transfer[] chain, bool posted)
    {
        var ledgers = new LegLedgers[chain.Length];
        var scratch = new Dictionary<UInt128, Account>();
        Account? Find(UInt128 id) => scratch.TryGetValue(id, out var s) ? s : _accounts.TryGetValue(id, out var a) ? a : null;
        for (var i = 0; i < chain.Length; i++)
        {
            var t = chain[i];
            var failed = new List<CreateTransferResult>();
            var holdsDebit = Holds(t.DebitAccountId);
            var holdsCredit = Holds(t.CreditAccountId);
            var debit = holdsDebit ? Find(t.DebitAccountId) : null;
            var credit = holdsCredit ? Find(t.CreditAccountId) : null;
            ledgers[i] = new LegLedgers(debit?.Ledger ?? 0, credit?.Ledger ?? 0);
            if (_transfers.ContainsKey(t.Id) || IsHeld(t.Id))
            {
                failed.Add(CreateTransferResult.Exists);
            }

            if (holdsDebit && debit is null)
            {
                failed.Add(CreateTransferResult.DebitAccountNotFound);
            }

            if (holdsCredit && credit is null)
            {
                failed.Add(CreateTransferResult.CreditAccountNotFound);
            }

            if (debit is { } d1 && credit is { } c1 && d1.Ledger != c1.Ledger)
            {
                failed.Add(CreateTransferResult.AccountsMustHaveTheSameLedger);
            }

            if ((debit is { } d2 && d2.Ledger != t.Ledger) || (credit is { } c2 && c2.Ledger != t.Ledger))
            {
                failed.Add(CreateTransferResult.TransferMustHaveTheSameLedgerAsAccounts);
            }

            if (debit is { } d3 && (d3.Flags & AccountFlags.DebitsMustNotExceedCredits) != 0 && d3.DebitsPosted + d3.DebitsPending + t.Amount > d3.CreditsPosted)
            {
                failed.Add(CreateTransferResult.ExceedsCredits);
            }

            if (failed.Count > 0)
            {
                return (i, failed.Min(), ledgers);
            }

            if (debit is { } d)
            {
                scratch[d.Id] = posted ? d with { DebitsPosted = d.DebitsPosted + t.Amount } : d with { DebitsPending = d.DebitsPending + t.Amount };
            }

            if (credit is { } c)
            {
                scratch[c.Id] = posted ? c with { CreditsPosted = c.CreditsPosted + t.Amount } : c with { CreditsPending = c.CreditsPending + t.Amount };
            }
        }

        return (-1, CreateTransferResult.Ok, ledgers);
    }

    private void Move(Transfer t, bool posted, int sign)
    {
        var amount = (ulong)sign * t.Amount;
        if (Holds(t.DebitAccountId))
        {
            var d = _accounts[t.DebitAccountId];
            _accounts[d.Id] = posted ? d with { DebitsPosted = d.DebitsPosted + amount } : d with { DebitsPending = d.DebitsPending + amount };
        }

        if (Holds(t.CreditAccountId))
        {
            var c = _accounts[t.CreditAccountId];
            _accounts[c.Id] = posted ? c with { CreditsPosted = c.CreditsPosted + amount } : c with { CreditsPending = c.CreditsPending + amount };
        }
    }

    private bool IsHeld(UInt128 transferId)
    {
        foreach (var chain in _prepared.Values)
        {
            foreach (var t in chain)
            {
                if (t.Id == transferId)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private bool Holds(UInt128 account) => _router.ShardOf(LedgerCodec.IdBytes(account)) == _id;
}
