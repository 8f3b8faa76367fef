namespace Heraclius.KvStore.Transport;

/// <summary>
/// A node's answer to a submitted batch: accepted into the pool, or refused with a stable
/// machine-readable code (see <see cref="SubmitErrorCodes"/>). A refusal is a value, not an error.
/// </summary>
public sealed record SubmitResult
{
    private SubmitResult(bool accepted, string? errorCode, string? errorMessage)
    {
        Accepted = accepted;
        ErrorCode = errorCode;
        ErrorMessage = errorMessage;
    }

    public static SubmitResult Ok { get; } = new(true, null, null);

    public bool Accepted { get; }

    /// <summary>Null when accepted; otherwise a stable snake_case code.</summary>
    public string? ErrorCode { get; }

    /// <summary>Human-readable detail; never needed to act on the result.</summary>
    public string? ErrorMessage { get; }

    public static SubmitResult Rejected(string errorCode, string? errorMessage = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(errorCode);
        return new SubmitResult(false, errorCode, errorMessage);
    }
}
