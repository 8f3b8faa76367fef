using Microsoft.Extensions.Options;

namespace Heraclius.KvStore.Transport;

/// <summary>Fails host start-up with the first problem in <see cref="InboundSubscriptionOptions"/>.</summary>
public sealed class InboundSubscriptionOptionsValidator : IValidateOptions<InboundSubscriptionOptions>
{
    public ValidateOptionsResult Validate(string? name, InboundSubscriptionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Validate() is { } error ? ValidateOptionsResult.Fail(error) : ValidateOptionsResult.Success;
    }
}
