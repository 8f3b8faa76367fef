namespace Heraclius.Ledger.Model;

/// <summary>What one balance movement did (history entries and audit postings; u8 on the wire).</summary>
public enum TransferMovement : byte
{
    /// <summary>amount added to posted.</summary>
    Posted = 1,

    /// <summary>A pending transfer's hold: amount added to pending.</summary>
    PendingHold = 2,

    /// <summary>A pending transfer posted: its pending amount released, the posted amount added to posted.</summary>
    PendingPosted = 3,

    PendingVoided = 4,
    PendingExpired = 5,

    /// <summary>A 2PC reservation: amount added to pending until the coordinator decides.</summary>
    Reserved = 6,

    /// <summary>A 2PC reservation released (abort, or commit turning it into its final movement).</summary>
    Released = 7,
}
