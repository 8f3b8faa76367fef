using Microsoft.Extensions.Options;

namespace Heraclius.KvStore.Transport;

/// <summary>Fails host start-up with the first problem in <see cref="TransportServerOptions"/>.</summary>
internal sealed class TransportServerOptionsValidator : IValidateOptions<TransportServerOptions>
{
    public ValidateOptionsResult Validate(string? name, TransportServerOptions options) =>
        options.Validate() is { } error ? ValidateOptionsResult.Fail(error) : ValidateOptionsResult.Success;
}
