extension String {
    /// Runs `body` over the string's UTF-8 bytes without copying the string: native and small
    /// strings (nearly all) are read where they are; others (bridged, lazily decoded) are made
    /// contiguous in a copy first. `withUTF8` needs a mutable copy of the string (a retain and a
    /// release each time): measured 12.5 vs 8 ns per call, paid for every name and value written
    /// out.
    @inlinable @inline(__always)
    public func withUTF8Bytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let result = try utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = self
        return try copy.withUTF8(body)
    }
}
