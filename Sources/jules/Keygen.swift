import ArgumentParser
import JulesSecurity

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a fresh key set as environment lines (JULES_ENCRYPTION_KEYS, JULES_BLIND_INDEX_KEY).",
        discussion: """
            Keep the output secret and keep it: data encrypted with a key cannot be read without it. To rotate the \
            encryption key, put a new key first in JULES_ENCRYPTION_KEYS (`jules keygen --encryption-key` prints \
            one), restart, run `jules reencrypt` until it exits 0, then remove the old key. The blind index key never \
            rotates.
            """
    )

    @Flag(help: "Print only a new Fernet key, for rotation.")
    var encryptionKey = false

    func run() {
        let key = FernetKey.generate().base64URL
        if encryptionKey {
            print(key)
            return
        }
        print("JULES_ENCRYPTION_KEYS=\(key)")
        print("JULES_BLIND_INDEX_KEY=\(BlindIndex.generateKey())")
    }
}
