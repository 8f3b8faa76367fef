namespace Heraclius.Ledger.Protocol;

/// <summary>The first byte of a coordinator↔shard message (docs/design.md "Where accounts live and how a chain runs").</summary>
public enum ShardMessageKind : byte
{
    /// <summary>Coordinator → shard: a one-shard client request (CreateAccount, LookupAccount, LookupTransfer, AccountHistory, CloseAccount) to execute and answer.</summary>
    Forward = 1,

    /// <summary>Coordinator → shard: a chain whose accounts all live on this shard; evaluate and apply in one round.</summary>
    Apply = 2,

    /// <summary>Coordinator → shard: 2PC phase one; reserve this shard's sides or refuse.</summary>
    Prepare = 3,

    /// <summary>Coordinator → shard: 2PC decided commit; apply the reservations.</summary>
    Commit = 4,

    /// <summary>Coordinator → shard: 2PC decided abort; release and store the final results.</summary>
    Abort = 5,

    /// <summary>Shard → coordinator: the answer bytes of a forwarded request.</summary>
    Answer = 101,

    /// <summary>Shard → coordinator: the per-leg results of an applied (or refused) chain.</summary>
    Applied = 102,

    /// <summary>Shard → coordinator: a Prepare's vote.</summary>
    Vote = 103,

    /// <summary>Shard → coordinator: Commit or Abort applied.</summary>
    Ack = 104,
}
