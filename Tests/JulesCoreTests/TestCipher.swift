import JulesCore
import JulesSecurity

/// Fresh keys for a test; nothing the tests encrypt outlives them.
enum TestCipher {
    static func make(keys: [FernetKey] = [FernetKey.generate()]) throws -> PIICipher {
        PIICipher(
            keyRing: try FernetKeyRing(keys: keys),
            blindIndex: try BlindIndex(base64URL: BlindIndex.generateKey())
        )
    }
}
