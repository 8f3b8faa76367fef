namespace Heraclius.Ledger.Protocol;

/// <summary>The ledgers of a leg's accounts held by the voting shard (0 = not held here, or not found).</summary>
public readonly record struct LegLedgers(uint Debit, uint Credit);
