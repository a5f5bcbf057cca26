using Microsoft.Extensions.Options;
using PaymentFunctions;

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
