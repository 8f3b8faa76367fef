namespace Heraclius.Ledger.Shard;

/// <summary>A transfer id an operation works on, with the same two images as <see cref="AccountSlot"/>.</summary>
internal struct TransferSlot
{
    public UInt128 Id;

    /// <summary>The state key the record was read by (or will be written by), as in <see cref="AccountSlot.Key"/>.</summary>
    public byte[] Key;

    /// <summary>A record was in the state before this operation.</summary>
    public bool InState;

    /// <summary>An earlier leg of the chain being evaluated created it.</summary>
    public bool NewInChain;

    public bool Dirty;
    public bool Deleted;
    public TransferRecord Virtual;
    public TransferRecord Stored;

    public readonly bool Exists => InState || NewInChain;
}
