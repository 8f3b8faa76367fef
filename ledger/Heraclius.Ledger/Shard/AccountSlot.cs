namespace Heraclius.Ledger.Shard;

/// <summary>
/// An account an operation works on. <see cref="Virtual"/> is what the checks see (the earlier legs'
/// final effects); <see cref="Stored"/> is what gets written: the same in a one-round Apply, the
/// reservations in a Prepare.
/// </summary>
internal struct AccountSlot
{
    public UInt128 Id;
    public bool Found;
    public bool Dirty;
    public AccountState Virtual;
    public AccountState Stored;
}
