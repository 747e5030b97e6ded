import JulesSecurity
import Testing

@Suite("FernetKeyRing")
struct FernetKeyRingTests {
    @Test("rotation: old tokens still decrypt after a new key is added first; removed keys stop working")
    func rotation() throws {
        let old = FernetKey.generate()
        let new = FernetKey.generate()
        let oldToken = try FernetKeyRing(keys: [old]).encrypt(Array("v1".utf8))

        let rotated = try FernetKeyRing(keys: [new, old])
        let opened = try rotated.decryptWithKeyIndex(oldToken)
        #expect(opened.plaintext == Array("v1".utf8))
        #expect(opened.keyIndex == 1)

        let newToken = rotated.encrypt(Array("v2".utf8))
        #expect(try rotated.decryptWithKeyIndex(newToken).keyIndex == 0)
        #expect(try Fernet(key: new).decrypt(newToken) == Array("v2".utf8))

        let retired = try FernetKeyRing(keys: [new])
        let error = #expect(throws: SecurityError.self) { try retired.decrypt(oldToken) }
        #expect(error?.code == .invalidSignature)
        #expect(try retired.decrypt(newToken) == Array("v2".utf8))
    }

    @Test("errors after a key verifies are final, not masked by trying other keys")
    func expiryIsReported() throws {
        let key = FernetKey.generate()
        let ring = try FernetKeyRing(keys: [.generate(), key])
        let token = Fernet(key: key).encrypt([1], now: 100)
        let error = #expect(throws: SecurityError.self) { try ring.decrypt(token, ttl: 10, now: 200) }
        #expect(error?.code == .expired)
    }

    @Test("an empty key list is rejected")
    func empty() {
        #expect(throws: SecurityError.self) { try FernetKeyRing(keys: []) }
        #expect(throws: SecurityError.self) { try FernetKeyRing(environmentValue: " ,\n ") }
    }

    @Test(
        "environment values accept commas, spaces and newlines",
        arguments: [", ", ",", " ", "\n", "\r\n", " ,\n\t"]
    )
    func environment(separator: String) throws {
        let keys = [FernetKey.generate(), .generate(), .generate()]
        let text = keys.map(\.base64URL).joined(separator: separator) + separator
        let ring = try FernetKeyRing(environmentValue: text)
        #expect(ring.keys == keys)
        #expect(ring.fingerprints == keys.map(\.fingerprint))
    }

    @Test("a bad entry is reported by position without its text")
    func badPosition() {
        let good = FernetKey.generate().base64URL
        let bad = "not-a-key-but-secretish"
        let error = #expect(throws: SecurityError.self) {
            try FernetKeyRing(environmentValue: "\(good),\(good)\n\(bad)")
        }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.contains("position 2") == true)
        #expect(error.map { $0.description.contains(bad) || $0.description.contains(good) } == false)
    }

    @Test("fingerprints are stable, distinct and never the key")
    func fingerprints() throws {
        let keys = [FernetKey.generate(), .generate()]
        let ring = try FernetKeyRing(keys: keys)
        #expect(
            ring.fingerprints
                == (try FernetKeyRing(environmentValue: keys.map(\.base64URL).joined(separator: ",")).fingerprints))
        #expect(Set(ring.fingerprints).count == 2)
        for (key, fingerprint) in zip(keys, ring.fingerprints) {
            #expect(fingerprint.count == 16)
            #expect(!key.base64URL.contains(fingerprint))
        }
    }
}
