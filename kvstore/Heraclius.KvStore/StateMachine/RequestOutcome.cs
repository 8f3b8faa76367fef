namespace Heraclius.KvStore.StateMachine;

/// <summary>What a service did with a client request.</summary>
public readonly struct RequestOutcome
{
    private RequestOutcome(RequestOutcomeKind kind, byte[] result)
    {
        Kind = kind;
        Result = result;
    }

    public RequestOutcomeKind Kind { get; }

    /// <summary>The answer when <see cref="Kind"/> is <see cref="RequestOutcomeKind.Answered"/>; empty otherwise.</summary>
    public byte[] Result { get; }

    public static RequestOutcome Answered(byte[] result) => new(RequestOutcomeKind.Answered, result);

    /// <summary>The answer comes in a later decision, through <see cref="IServiceOutputs.Answer"/>.</summary>
    public static RequestOutcome Deferred { get; } = new(RequestOutcomeKind.Deferred, []);

    /// <summary>
    /// Not executed: a destination's window is full (the engine refuses so too once a proposal's outputs reach their budget).
    /// Stored, and final for the id: a repeat is answered overloaded again, and the client retries under a new id.
    /// </summary>
    public static RequestOutcome Overloaded { get; } = new(RequestOutcomeKind.Overloaded, []);
}
