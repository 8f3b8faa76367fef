using System.Globalization;
using CsCheck;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Tests.Reference;

/// <summary>One step of a ledger scenario, applied alike to the model and to the implementation under test.</summary>
public abstract record LedgerOp;

public sealed record AdvanceToOp(ulong TimestampMs) : LedgerOp
{
    public override string ToString() => $"AdvanceTo({TimestampMs})";
}

public sealed record CreateAccountOp(Account Account) : LedgerOp
{
    public override string ToString() =>
        $"CreateAccount(id {Account.Id}, ledger {Account.Ledger}, code {Account.Code}, owner {Account.Owner}, flags {Account.Flags}" +
        (Account.DebitsPending | Account.DebitsPosted | Account.CreditsPending | Account.CreditsPosted | Account.Timestamp) switch
        {
            0 => ")",
            _ => $", balances {Account.DebitsPending}/{Account.DebitsPosted}/{Account.CreditsPending}/{Account.CreditsPosted}, timestamp {Account.Timestamp})",
        };
}

public sealed record CreateTransfersOp(IReadOnlyList<Transfer> Chain) : LedgerOp
{
    public override string ToString() => $"CreateTransfers[{string.Join("; ", Chain.Select(Describe))}]";

    public static string Describe(Transfer t) => string.Create(
        CultureInfo.InvariantCulture,
        $"id {t.Id} {t.DebitAccountId}->{t.CreditAccountId} amount {t.Amount} flags {t.Flags} pending {t.PendingId} timeout {t.Timeout} ledger {t.Ledger} code {t.Code} user {t.UserData}{(t.Timestamp == 0 ? "" : $" timestamp {t.Timestamp}")}");
}

public sealed record CloseAccountOp(UInt128 AccountId) : LedgerOp
{
    public override string ToString() => $"CloseAccount({AccountId})";
}

/// <summary>
/// Random ledger scenarios over a small id space, so that ids collide, transfers repeat, chains reuse
/// their own pending transfers and accounts run dry. Each operation is built from a row of random numbers
/// by <see cref="Build"/>, which tracks what it has generated so far (not what succeeded: it cannot know,
/// and must not, so that failures stay likely too). Shrinking acts on the numbers; 0 picks the common,
/// valid choice, so shrunk scenarios are mostly plain transfers.
/// </summary>
public static class LedgerScenarioGen
{
    /// <summary>The first decision time, far from 0 so that timestamps are plausible.</summary>
    public const ulong StartMs = 1_700_000_000_000;

    private const int LegSeeds = 8;
    private const int MaxLegs = 5;

    // Ledger 1: issuance 1, customers 10..13 made by the prologue, 14 and 15 only by random creates;
    // ledger 2: issuance 2, customers 20 and 21, and 22 by random creates; 99 is never created.
    private static readonly UInt128[] Ledger1 = [10, 11, 12, 13];
    private static readonly UInt128[] Ledger2 = [20, 21];
    private static readonly UInt128[] AccountPool = [10, 11, 12, 13, 14, 15, 20, 21, 22, 1, 2, 99];
    private static readonly UInt128[] Rare = [14, 15, 22, 99];

    /// <summary>Random scenarios of 1 to 100 operations after a fixed prologue of accounts and funding.</summary>
    public static readonly Gen<List<LedgerOp>> Scenarios =
        Gen.Int[0, 999].Array[LegSeeds * MaxLegs].List[1, 100].Select(Build);

    /// <summary>Like <see cref="Scenarios"/>, with up to <paramref name="maxOps"/> random operations.</summary>
    public static Gen<List<LedgerOp>> ScenariosOf(int maxOps) =>
        Gen.Int[0, 999].Array[LegSeeds * MaxLegs].List[1, maxOps].Select(Build);

    /// <summary>
    /// The ledger of a pool account (99 claims ledger 1; it is never created by the prologue).
    /// </summary>
    public static uint LedgerOf(UInt128 id) => id == 2 || (id >= 20 && id < 30) ? 2u : 1u;

    /// <summary>Turns rows of random numbers into operations; deterministic, so it shrinks and replays.</summary>
    public static List<LedgerOp> Build(IReadOnlyList<int[]> rows)
    {
        var builder = new Builder();
        builder.Prologue();
        foreach (var row in rows)
        {
            builder.Step(row);
        }

        return builder.Ops;
    }

    private sealed class Builder
    {
        private readonly List<Transfer[]> _chains = [];
        private readonly List<Transfer> _pending = [];
        private ulong _now = StartMs;
        private ulong _nextId = 1000;

        public List<LedgerOp> Ops { get; } = [];

        /// <summary>
        /// Issuance accounts, customers with every kind of flags, and funding: the debit-limited customers
        /// get credits from their issuance account, the credit-limited one (12) is debited towards it, so that
        /// most later transfers can succeed.
        /// </summary>
        public void Prologue()
        {
            Ops.Add(new AdvanceToOp(_now));
            Ops.Add(new CreateAccountOp(Account.Create(1, 1, 1, 1, AccountFlags.Issuance)));
            Ops.Add(new CreateAccountOp(Account.Create(2, 2, 1, 1, AccountFlags.Issuance | AccountFlags.History)));
            Ops.Add(new CreateAccountOp(Account.Create(10, 1, 1, 100, AccountFlags.None)));
            Ops.Add(new CreateAccountOp(Account.Create(11, 1, 1, 101, AccountFlags.DebitsMustNotExceedCredits | AccountFlags.History)));
            Ops.Add(new CreateAccountOp(Account.Create(12, 1, 1, 102, AccountFlags.CreditsMustNotExceedDebits)));
            Ops.Add(new CreateAccountOp(Account.Create(13, 1, 2, 103, AccountFlags.History)));
            Ops.Add(new CreateAccountOp(Account.Create(20, 2, 1, 200, AccountFlags.None)));
            Ops.Add(new CreateAccountOp(Account.Create(21, 2, 1, 201, AccountFlags.History)));
            Send([Plain(NewId(), 1, 10, 1_000_000, 1)]);
            Send([Plain(NewId(), 1, 11, 1_000_000, 1)]);
            Send([Plain(NewId(), 12, 1, 1_000_000, 1)]);
            Send([Plain(NewId(), 1, 13, 1_000_000, 1)]);
            Send([Plain(NewId(), 2, 20, 1_000_000, 2)]);
            Send([Plain(NewId(), 2, 21, 1_000_000, 2)]);
        }

        public void Step(int[] r)
        {
            var kind = r[0] % 100;
            switch (kind)
            {
                case < 40:
                    Send([NewTransfer(r, 0)]);
                    break;
                case < 52:
                    Send([PostOrVoid(r, 0) ?? NewTransfer(r, 0)]);
                    break;
                case < 64:
                    Chain(r);
                    break;
                case < 74:
                    Advance(r);
                    break;
                case < 81:
                    CreateAccount(r);
                    break;
                case < 82:
                    // Mostly accounts the common transfers do not use, or every scenario would end with them closed.
                    Ops.Add(new CloseAccountOp(r[2] % 4 == 0 ? PickAccount(r[1]) : Rare[r[1] % Rare.Length]));
                    break;
                case < 94:
                    Repeat(r);
                    break;
                default:
                    Send([Invalid(NewTransfer(r, 0), r[7])]);
                    break;
            }
        }

        private void Send(Transfer[] chain)
        {
            Ops.Add(new CreateTransfersOp(chain));
            _chains.Add(chain);
            _pending.AddRange(chain.Where(t => t.IsPending));
        }

        private UInt128 NewId() => _nextId++;

        private static UInt128 PickAccount(int r) => AccountPool[r % AccountPool.Length];

        private static Transfer Plain(UInt128 id, UInt128 debit, UInt128 credit, ulong amount, uint ledger) =>
            new(id, debit, credit, amount, 0, 0, 0, ledger, 1, TransferFlags.None, 0);

        /// <summary>A plain or pending transfer, mostly within one ledger and mostly affordable.</summary>
        private Transfer NewTransfer(int[] r, int leg)
        {
            var o = leg * LegSeeds;
            var fromIssuance = r[o + 1] % 10 == 9;
            UInt128 debit;
            UInt128 credit;
            var ledger2 = r[o + 2] % 4 == 3;
            var customers = ledger2 ? Ledger2 : Ledger1;
            if (fromIssuance)
            {
                debit = ledger2 ? 2u : 1u;
                credit = customers[r[o + 3] % customers.Length];
            }
            else if (r[o + 1] % 20 == 18)
            {
                debit = PickAccount(r[o + 2]);
                credit = PickAccount(r[o + 3]);
            }
            else
            {
                debit = customers[r[o + 2] % customers.Length];
                credit = customers[(r[o + 2] + 1 + (r[o + 3] % (customers.Length - 1))) % customers.Length];
                if (r[o + 1] % 10 == 8)
                {
                    credit = ledger2 ? 2u : 1u;
                }
            }

            ulong amount = r[o + 4] switch
            {
                >= 995 => Transfer.MaxAmount,
                >= 900 => 100_000 + (ulong)r[o + 5] * 10_000,
                _ => 1 + (ulong)r[o + 4],
            };
            var pending = r[o + 5] % 4 == 3;
            var timeout = pending ? (uint)(r[o + 6] % 6) : 0;
            var ledger = r[o + 6] % 50 == 49 ? 3 - LedgerOf(debit) : LedgerOf(debit);
            var code = (ushort)(1 + (r[o + 7] % 3));
            UInt128 userData = (uint)(r[o + 7] % 2);
            return new Transfer(NewId(), debit, credit, amount, 0, userData, timeout, ledger, code, pending ? TransferFlags.Pending : TransferFlags.None, 0);
        }

        /// <summary>
        /// A post or void of a pending transfer generated earlier (possibly one that failed or is gone), now and
        /// then naming one account that is not the pending transfer's (has_different_*_account_id) or neither
        /// (not found: no shard holds a half of it under those accounts).
        /// </summary>
        private Transfer? PostOrVoid(int[] r, int leg)
        {
            if (_pending.Count == 0)
            {
                return null;
            }

            var o = leg * LegSeeds;
            // Recent pending transfers are likelier to be still pending.
            var back = r[o + 1] % 3 == 0 ? r[o + 2] % _pending.Count : r[o + 2] % Math.Min(3, _pending.Count);
            var p = _pending[_pending.Count - 1 - back];
            var post = r[o + 3] % 3 != 2;
            ulong amount = post
                ? (r[o + 4] % 10) switch
                {
                    < 4 => 0,
                    < 7 => 1 + ((ulong)r[o + 5] % Math.Max(p.Amount, 1)),
                    < 9 => p.Amount,
                    _ => p.Amount + 1,
                }
                : (r[o + 4] % 10) switch
                {
                    < 7 => 0,
                    < 9 => p.Amount,
                    _ => p.Amount - 1,
                };
            var wrong = r[o + 6] % 20;
            var debit = wrong is 19 or 14 ? PickAccount(r[o + 7]) : p.DebitAccountId;
            var credit = wrong is 15 or 14 ? PickAccount(r[o + 7] / AccountPool.Length) : p.CreditAccountId;
            var code = r[o + 6] % 20 == 18 ? (ushort)(p.Code % 3 + 1) : p.Code;
            var ledger = r[o + 6] % 20 == 17 ? 3 - p.Ledger : p.Ledger;
            var flags = post ? TransferFlags.PostPending : TransferFlags.VoidPending;
            // Now and then the "pending" id is an earlier transfer that was not pending.
            var pendingId = r[o + 6] % 20 == 16 ? _chains[r[o + 7] % _chains.Count][0].Id : p.Id;
            return new Transfer(NewId(), debit, credit, amount, pendingId, 0, 0, ledger, code, flags, 0);
        }

        /// <summary>2 to 5 linked legs (plain, pending, post or void of anything pending so far, this chain's
        /// legs included); now and then a leg repeats an earlier leg's id (as it was, or with another amount),
        /// and now and then the last leg stays linked (an open chain).</summary>
        private void Chain(int[] r)
        {
            var count = 2 + (r[1] % (MaxLegs - 1));
            var legs = new Transfer[count];
            for (var i = 0; i < count; i++)
            {
                // Seed 0 of legs after the first is free (leg 0's is the operation's kind).
                var again = r[i * LegSeeds];
                if (i > 0 && again % 20 == 19)
                {
                    var earlier = legs[again / 20 % i];
                    legs[i] = again / 20 % 3 == 0 ? earlier with { Amount = earlier.Amount + 1 } : earlier;
                    continue;
                }

                var leg = r[(i * LegSeeds) + 7] % 4 == 3 ? PostOrVoid(r, i) ?? NewTransfer(r, i) : NewTransfer(r, i);
                legs[i] = leg with { Flags = leg.Flags | TransferFlags.Linked };
                if (leg.IsPending)
                {
                    // Later legs of this chain may post or void it.
                    _pending.Add(leg);
                }
            }

            if (r[2] % 20 != 19)
            {
                legs[^1] = legs[^1] with { Flags = legs[^1].Flags & ~TransferFlags.Linked };
            }

            Ops.Add(new CreateTransfersOp(legs));
            _chains.Add(legs);
        }

        /// <summary>Sub-second to several-second steps, past the 1–5 s timeouts now and then.</summary>
        private void Advance(int[] r)
        {
            _now += (ulong)(r[1] % 4) * 1000 + (ulong)r[2] + (r[3] % 10 == 9 ? 10_000UL : 0);
            Ops.Add(new AdvanceToOp(_now));
        }

        /// <summary>An account in the pool (new or existing), now and then with wrong fields.</summary>
        private void CreateAccount(int[] r)
        {
            var id = PickAccount(r[1]);
            var flags = (r[2] % 10) switch
            {
                < 5 => AccountFlags.None,
                5 => AccountFlags.DebitsMustNotExceedCredits,
                6 => AccountFlags.CreditsMustNotExceedDebits,
                7 => AccountFlags.History,
                8 => id < 10 ? AccountFlags.Issuance : AccountFlags.DebitsMustNotExceedCredits | AccountFlags.CreditsMustNotExceedDebits,
                _ => AccountFlags.Issuance,
            };
            var account = Account.Create(id, LedgerOf(id), 1, 100 + (id - 10), flags);
            account = (r[3] % 20) switch
            {
                16 => account with { Owner = 7 },
                17 => account with { Ledger = 3 - LedgerOf(id) },
                18 => account with { Code = 0 },
                19 => account with { CreditsPosted = 5 },
                _ => account,
            };
            Ops.Add(new CreateAccountOp(account));
        }

        /// <summary>
        /// An earlier request again: a whole chain as it was (replays its answers), one transfer as it was
        /// (a chain's leg without its link), or one transfer with one field changed (exists_with_different_*).
        /// </summary>
        private void Repeat(int[] r)
        {
            if (_chains.Count == 0)
            {
                Send([NewTransfer(r, 0)]);
                return;
            }

            var chain = _chains[_chains.Count - 1 - (r[1] % _chains.Count)];
            if (r[2] % 3 == 0)
            {
                Ops.Add(new CreateTransfersOp(chain));
                return;
            }

            var t = chain[r[5] % chain.Length];
            t = t with { Flags = t.Flags & ~TransferFlags.Linked };
            if (r[2] % 3 == 2)
            {
                t = (r[3] % 9) switch
                {
                    0 => t with { Flags = t.Flags ^ TransferFlags.Pending },
                    1 => t with { PendingId = t.PendingId + 1 },
                    2 => t with { Timeout = t.Timeout + 1 },
                    3 => t with { DebitAccountId = PickAccount(r[4]) },
                    4 => t with { CreditAccountId = PickAccount(r[4]) },
                    5 => t with { Amount = t.Amount + 1 },
                    6 => t with { UserData = t.UserData + 1 },
                    7 => t with { Ledger = 3 - t.Ledger },
                    _ => t with { Code = (ushort)(t.Code + 1) },
                };
            }

            Ops.Add(new CreateTransfersOp([t]));
        }

        /// <summary>
        /// One field made invalid for the coordinator's stateless checks; now and then a client timestamp on top,
        /// whose timestamp_must_be_zero must lose to the other code.
        /// </summary>
        private static Transfer Invalid(Transfer t, int r)
        {
            var invalid = OneInvalidField(t, r);
            return r / 17 % 5 == 4 ? invalid with { Timestamp = 1 } : invalid;
        }

        private static Transfer OneInvalidField(Transfer t, int r) => (r % 17) switch
        {
            16 => t with { Timestamp = StartMs },
            14 => t with { DebitAccountId = UInt128.MaxValue },
            15 => t with { CreditAccountId = 0 },
            0 => t with { Id = 0 },
            1 => t with { Id = UInt128.MaxValue },
            2 => t with { DebitAccountId = 0 },
            3 => t with { CreditAccountId = UInt128.MaxValue },
            4 => t with { Flags = t.Flags | (TransferFlags)32 },
            5 => t with { Flags = TransferFlags.Pending | TransferFlags.VoidPending },
            6 => t with { PendingId = 5 },
            7 => t with { Timeout = 3, Flags = TransferFlags.None },
            8 => t with { Amount = 0 },
            9 => t with { Amount = Transfer.MaxAmount + 1 },
            10 => t with { Ledger = 0 },
            11 => t with { Code = 0 },
            12 => t with { CreditAccountId = t.DebitAccountId },
            _ => t with { Flags = TransferFlags.PostPending, PendingId = t.Id },
        };
    }
}
