var app = WebApplication.CreateBuilder(args).Build();
app.MapGet("/", () => "bare");
await app.RunAsync();
