namespace Heraclius.KvStore.Transport;

/// <summary>Stable codes of a refused batch. Clients branch on these, so they never change spelling.</summary>
public static class SubmitErrorCodes
{
    /// <summary>The batch does not decode.</summary>
    public const string Malformed = "malformed";

    /// <summary>The batch's client key is not registered.</summary>
    public const string UnknownClient = "unknown_client";

    /// <summary>The batch's signature does not verify.</summary>
    public const string BadSignature = "bad_signature";

    /// <summary>The node's pool or a destination's window is full; retry later.</summary>
    public const string Overloaded = "overloaded";

    /// <summary>The batch is larger than the node accepts.</summary>
    public const string Oversized = "oversized";
}
