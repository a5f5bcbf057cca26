using Microsoft.Extensions.Options;
using PaymentFunctions;
using PaymentFunctions.Operations;

// An operator's command of the app itself (docs/operations.md); anything else starts the app.
if (args.Length > 0 && args[0] == PoisonCommand.Name)
{
    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        cancel.Cancel();
    };
    return await PoisonCommand.RunAsync(args[1..], PoisonCommand.LoadConfiguration(), Console.Out, Console.Error, cancel.Token);
}

try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddApplicationServices();
    var app = builder.Build();
    // Validate every option now, before the host starts and would log the failure with a stack trace.
    app.Services.GetService<IStartupValidator>()?.Validate();
    app.MapApplicationEndpoints();
    await app.RunAsync();
    return 0;
}
catch (Exception ex) when (ConfigurationException.TryDescribe(ex, out var message))
{
    // One line naming what is wrong, no stack trace, no secret values, and a non-zero exit.
    await Console.Error.WriteLineAsync($"PaymentFunctions cannot start: {message}");
    return 1;
}
catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
{
    await Console.Error.WriteLineAsync($"PaymentFunctions cannot start: {ex.Message} Stop whatever uses that port, or pass another with --urls.");
    return 1;
}

public partial class Program;
