using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Protocol;

/// <summary>
/// A shard's answer to Prepare. Prepared: every leg side it holds is reserved (<see cref="FailedLeg"/> = −1,
/// <see cref="Code"/> = Ok). Refused: nothing reserved; the first leg that failed here and its smallest
/// code. <see cref="Ledgers"/> covers the legs evaluated (all, or 0..FailedLeg), so the coordinator
/// can tell accounts_must_have_the_same_ledger from the two shards' halves.
/// </summary>
public sealed record ShardVote(bool Prepared, int FailedLeg, CreateTransferResult Code, LegLedgers[] Ledgers)
{
    public static ShardVote Yes(LegLedgers[] ledgers) => new(true, -1, CreateTransferResult.Ok, ledgers);

    public static ShardVote No(int failedLeg, CreateTransferResult code, LegLedgers[] ledgers) => new(false, failedLeg, code, ledgers);
}
