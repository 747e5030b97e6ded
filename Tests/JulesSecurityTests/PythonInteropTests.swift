import Foundation
import JulesSecurity
import Testing

/// Checks against Python's `cryptography` Fernet, a widely used independent implementation.
@Suite(
    "Interoperability with Python cryptography",
    .enabled(if: PythonFernet.isAvailable, "python3 with the `cryptography` package is not available on PATH")
)
struct PythonInteropTests {
    static let plaintexts: [[UInt8]] = [
        [], Array("+14155552671".utf8), Array(0...255), [UInt8](repeating: 7, count: 5000),
    ]

    @Test("Python decrypts tokens made by Swift", arguments: plaintexts)
    func pythonDecryptsSwift(plaintext: [UInt8]) throws {
        let key = FernetKey.generate()
        let token = Fernet(key: key).encrypt(plaintext)
        let output = try PythonFernet.run(
            """
            import os
            from cryptography.fernet import Fernet
            f = Fernet(os.environ["JULES_FERNET_KEY"].encode())
            print(f.decrypt(os.environ["JULES_FERNET_TOKEN"].encode(), ttl=60).hex())
            """,
            environment: ["JULES_FERNET_KEY": key.base64URL, "JULES_FERNET_TOKEN": token]
        )
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout == plaintext.map { String(format: "%02x", $0) }.joined())
    }

    @Test("Swift decrypts tokens made by Python, with a key Python generated", arguments: plaintexts)
    func swiftDecryptsPython(plaintext: [UInt8]) throws {
        let output = try PythonFernet.run(
            """
            import os
            from cryptography.fernet import Fernet
            key = Fernet.generate_key()
            print(key.decode())
            print(Fernet(key).encrypt(bytes.fromhex(os.environ["JULES_PLAINTEXT_HEX"])).decode())
            """,
            environment: ["JULES_PLAINTEXT_HEX": plaintext.map { String(format: "%02x", $0) }.joined()]
        )
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 2)
        let fernet = Fernet(key: try FernetKey(base64URL: lines[0]))
        #expect(try fernet.decrypt(lines[1], ttl: 60) == plaintext)
    }

    @Test("Python rejects a tampered Swift token and a token under another key")
    func pythonRejects() throws {
        let key = FernetKey.generate()
        let token = Fernet(key: key).encrypt(Array("hello".utf8))
        var bytes = try #require(TestBase64URL.decode(token))
        bytes[20] ^= 1
        let cases = [(TestBase64URL.encode(bytes), key.base64URL), (token, FernetKey.generate().base64URL)]
        for (candidate, keyText) in cases {
            let output = try PythonFernet.run(
                """
                import os, sys
                from cryptography.fernet import Fernet, InvalidToken
                try:
                    Fernet(os.environ["JULES_FERNET_KEY"].encode()).decrypt(os.environ["JULES_FERNET_TOKEN"].encode())
                except InvalidToken:
                    sys.exit(3)
                """,
                environment: ["JULES_FERNET_KEY": keyText, "JULES_FERNET_TOKEN": candidate]
            )
            #expect(output.status == 3, "\(output.stderr)")
        }
    }
}
