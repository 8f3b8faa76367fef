namespace Heraclius.Ledger.Shard;

/// <summary>
/// An account an operation works on. <see cref="Virtual"/> is what the checks see (the earlier legs'
/// final effects); <see cref="Stored"/> is what gets written: the same in a one-round Apply, the
/// reservations in a Prepare.
/// </summary>
internal struct AccountSlot
{
    public UInt128 Id;

    /// <summary>The state key the account was read by, written back by the same array (keys handed to the state are never changed).</summary>
    public byte[] Key;

    public bool Found;
    public bool Dirty;
    public AccountState Virtual;
    public AccountState Stored;
}
