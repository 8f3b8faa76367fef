namespace Heraclius.Testing.Faults;

/// <summary>How the one faulty node of a simulated cluster misbehaves; its replica is the real code, its outbound traffic is rewritten.</summary>
[Flags]
public enum ByzantineMode
{
    None = 0,
    Equivocate = 1,
    WrongOutputs = 2,
    LyingVotes = 4,
    LyingViewChanges = 8,
    Replay = 16,
    Garbage = 32,

    /// <summary>As leader, sends followers inputs ahead of its pre-prepare that are not the pre-prepare's: other valid inputs to odd members, unparsable ones to even members.</summary>
    LyingInputsAhead = 64,
}
