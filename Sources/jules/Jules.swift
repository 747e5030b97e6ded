import ArgumentParser
import JulesCore

@main
struct Jules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jules",
        abstract: "Jules core: the family meal-planning SMS assistant's backend, served as JSON-RPC 2.0.",
        version: JulesVersion.current,
        subcommands: [Serve.self, Migrate.self, Keygen.self, Reencrypt.self]
    )
}
