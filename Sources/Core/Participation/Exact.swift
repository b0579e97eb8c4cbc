/// Exact arithmetic for the audit: a value exactly on its threshold must pass, so the audit compares
/// rationals, never binary floating point (where 1 / (5 × (1/5)²) is 4.999999999999999).
///
/// Every metric the audit judges is a ratio of counts, or a sum of such ratios and of baseline
/// shares; baseline shares and policy thresholds are decimals. All of these are rationals, and
/// `Rational` holds them without loss (numerator and denominator of any size, always reduced).

/// A rational number p/q in lowest terms, q > 0. Numbers whose numerator and denominator fit in 63
/// bits (nearly all: counts and short decimals) are computed with 128-bit intermediates, others
/// with `BigUInt`; both give the same value, and each value has one representation.
public struct Rational: Hashable, Comparable, Sendable, CustomStringConvertible {
    private enum Storage: Hashable, Sendable {
        /// Reduced; denominator > 0; both within ±Int64.max.
        case small(numerator: Int64, denominator: Int64)
        /// Reduced; too large for `small`. Zero is never negative.
        case big(negative: Bool, numerator: BigUInt, denominator: BigUInt)
    }

    private let storage: Storage

    /// Reduces `numerator / denominator` (denominator not zero).
    init(negative: Bool, numerator: BigUInt, denominator: BigUInt) {
        precondition(!denominator.isZero, "a rational with denominator 0")
        var numerator = numerator
        var denominator = denominator
        let divisor = BigUInt.gcd(numerator, denominator)
        if !divisor.isOne {
            numerator = numerator.quotientAndRemainder(dividingBy: divisor).quotient
            denominator = denominator.quotientAndRemainder(dividingBy: divisor).quotient
        }
        if let p = numerator.int64, let q = denominator.int64 {
            storage = .small(numerator: negative ? -p : p, denominator: q)
        } else {
            storage = .big(negative: negative && !numerator.isZero, numerator: numerator, denominator: denominator)
        }
    }

    /// Reduces `numerator / denominator` (denominator not zero).
    private init(_ numerator: Int128, over denominator: Int128) {
        precondition(denominator != 0, "a rational with denominator 0")
        var p = numerator.magnitude
        var q = denominator.magnitude
        var (x, y) = (p, q)
        while y != 0 { (x, y) = (y, x % y) }
        if x > 1 {
            p /= x
            q /= x
        }
        let negative = (numerator < 0) != (denominator < 0) && p != 0
        if p <= UInt128(Int64.max), q <= UInt128(Int64.max) {
            storage = .small(numerator: negative ? -Int64(p) : Int64(p), denominator: Int64(q))
        } else {
            storage = .big(negative: negative, numerator: BigUInt(p), denominator: BigUInt(q))
        }
    }

    /// Sign, numerator and denominator of any value.
    var parts: (negative: Bool, numerator: BigUInt, denominator: BigUInt) {
        switch storage {
        case .small(let p, let q): return (p < 0, BigUInt(p.magnitude), BigUInt(q.magnitude))
        case .big(let negative, let p, let q): return (negative, p, q)
        }
    }

    var negative: Bool { parts.negative }

    public init(_ value: Int) {
        self.init(Int128(value), over: 1)
    }

    /// `numerator / denominator`; the denominator must not be 0.
    public init(_ numerator: Int, _ denominator: Int) {
        self.init(Int128(numerator), over: Int128(denominator))
    }

    public static let zero = Rational(0)
    public static let one = Rational(1)

    /// The value of a decimal numeral such as `0.8`, `-12`, `2.5e-3` or `1E+2` (JSON's number syntax,
    /// leading zeros allowed), exactly; nil for anything else, or a decimal exponent beyond ±400.
    public init?(decimal text: String) {
        var bytes = Substring(text).utf8[...]
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        var digits = BigUInt()
        var integerDigits = 0
        var fractionDigits = 0
        var inFraction = false
        var exponent = 0
        while let byte = bytes.first {
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                digits.multiplyAdd(10, UInt32(byte - UInt8(ascii: "0")))
                if inFraction { fractionDigits += 1 } else { integerDigits += 1 }
            } else if byte == UInt8(ascii: "."), !inFraction {
                inFraction = true
            } else {
                break
            }
            bytes = bytes.dropFirst()
        }
        guard integerDigits + fractionDigits > 0 else { return nil }
        if let byte = bytes.first, byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            var exponentNegative = false
            if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
                exponentNegative = sign == UInt8(ascii: "-")
                bytes = bytes.dropFirst()
            }
            guard !bytes.isEmpty, bytes.count <= 3, bytes.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            else { return nil }
            exponent = Int(String(decoding: bytes, as: UTF8.self))! * (exponentNegative ? -1 : 1)
            bytes = bytes[bytes.endIndex...]
        }
        guard bytes.isEmpty else { return nil }
        let scale = exponent - fractionDigits
        guard abs(scale) <= 400 else { return nil }
        if scale >= 0 {
            self.init(negative: negative, numerator: digits * BigUInt.power(of: 10, scale), denominator: BigUInt(1))
        } else {
            self.init(negative: negative, numerator: digits, denominator: BigUInt.power(of: 10, -scale))
        }
    }

    /// The shortest decimal that reads back as `value` (what Swift prints for it, and what consultctl
    /// writes to the log for a baseline share): the decimal a person gave, when it had at most 15
    /// significant digits. Nil for infinities and NaN.
    public init?(shortestDecimal value: Double) {
        guard value.isFinite else { return nil }
        self.init(decimal: value.description)
    }

    /// The exact value of a binary64 (e.g. a time in seconds). Nil for infinities and NaN.
    public init?(exactly value: Double) {
        guard value.isFinite else { return nil }
        let significand: UInt64
        let exponent: Int
        if value.exponentBitPattern == 0 {
            significand = value.significandBitPattern
            exponent = -1074
        } else {
            significand = value.significandBitPattern | (1 << 52)
            exponent = Int(value.exponentBitPattern) - 1075
        }
        if exponent >= 0 {
            self.init(negative: value < 0, numerator: BigUInt(significand).shiftedLeft(exponent), denominator: BigUInt(1))
        } else {
            self.init(negative: value < 0, numerator: BigUInt(significand), denominator: BigUInt(1).shiftedLeft(-exponent))
        }
    }

    public var isZero: Bool {
        if case .small(let p, _) = storage { return p == 0 }
        return false
    }

    public var magnitude: Rational {
        switch storage {
        case .small(let p, let q): return Rational(Int128(p.magnitude), over: Int128(q))
        case .big(_, let p, let q): return Rational(negative: false, numerator: p, denominator: q)
        }
    }

    public static prefix func - (value: Rational) -> Rational {
        switch value.storage {
        case .small(let p, let q): return Rational(-Int128(p), over: Int128(q))
        case .big(let negative, let p, let q): return Rational(negative: !negative, numerator: p, denominator: q)
        }
    }

    public static func + (a: Rational, b: Rational) -> Rational {
        if b.isZero { return a }
        if a.isZero { return b }
        if case .small(let p, let q) = a.storage, case .small(let r, let s) = b.storage {
            // Each product is below 2^126, their sum below 2^127: no overflow.
            return Rational(Int128(p) * Int128(s) + Int128(r) * Int128(q), over: Int128(q) * Int128(s))
        }
        let (an, ap, aq) = a.parts
        let (bn, bp, bq) = b.parts
        let left = ap * bq
        let right = bp * aq
        let denominator = aq * bq
        if an == bn {
            return Rational(negative: an, numerator: left + right, denominator: denominator)
        }
        return left >= right
            ? Rational(negative: an, numerator: left - right, denominator: denominator)
            : Rational(negative: bn, numerator: right - left, denominator: denominator)
    }

    public static func - (a: Rational, b: Rational) -> Rational { a + -b }

    public static func * (a: Rational, b: Rational) -> Rational {
        if case .small(let p, let q) = a.storage, case .small(let r, let s) = b.storage {
            return Rational(Int128(p) * Int128(r), over: Int128(q) * Int128(s))
        }
        let (an, ap, aq) = a.parts
        let (bn, bp, bq) = b.parts
        return Rational(negative: an != bn, numerator: ap * bp, denominator: aq * bq)
    }

    /// `a / b`; `b` must not be 0.
    public static func / (a: Rational, b: Rational) -> Rational {
        if case .small(let p, let q) = a.storage, case .small(let r, let s) = b.storage {
            return Rational(Int128(p) * Int128(s), over: Int128(q) * Int128(r))
        }
        let (an, ap, aq) = a.parts
        let (bn, bp, bq) = b.parts
        return Rational(negative: an != bn, numerator: ap * bq, denominator: aq * bp)
    }

    public static func < (a: Rational, b: Rational) -> Bool {
        if case .small(let p, let q) = a.storage, case .small(let r, let s) = b.storage {
            return Int128(p) * Int128(s) < Int128(r) * Int128(q)
        }
        let (an, ap, aq) = a.parts
        let (bn, bp, bq) = b.parts
        let aNegative = an && !ap.isZero
        let bNegative = bn && !bp.isZero
        if aNegative != bNegative { return aNegative }
        let left = ap * bq
        let right = bp * aq
        return aNegative ? right < left : left < right
    }

    /// The binary64 nearest to the value (ties to even): what the metrics expose and projections store.
    public var double: Double {
        if case .small(let p, let q) = storage, p.magnitude <= 1 << 53, q <= 1 << 53 {
            // Both exact in binary64: IEEE division rounds the quotient correctly.
            return Double(p) / Double(q)
        }
        let (negative, numerator, denominator) = parts
        if numerator.isZero { return 0 }
        // A quotient of 63 or 64 bits, its last bit set when anything was left over: converting that
        // to a Double rounds once, correctly (the sticky bit lies below the rounding position).
        let shift = 63 - (numerator.bitWidth - denominator.bitWidth)
        let (quotient, remainder) = shift >= 0
            ? numerator.shiftedLeft(shift).quotientAndRemainder(dividingBy: denominator)
            : numerator.quotientAndRemainder(dividingBy: denominator.shiftedLeft(-shift))
        let bits = quotient.low64 | (remainder.isZero ? 0 : 1)
        let magnitude = Double(sign: .plus, exponent: -shift, significand: Double(bits))
        return negative ? -magnitude : magnitude
    }

    /// The value rounded to `places` decimals (half away from zero), trailing zeros dropped, in
    /// plain notation: "0.8", "5", "4.9999999".
    public func rounded(places: Int) -> String {
        let (negative, numerator, denominator) = parts
        let scale = BigUInt.power(of: 10, places)
        var (quotient, remainder) = (numerator * scale).quotientAndRemainder(dividingBy: denominator)
        if remainder.shiftedLeft(1) >= denominator { quotient = quotient + BigUInt(1) }
        var digits = quotient.decimalString
        if places > 0 {
            if digits.count <= places { digits = String(repeating: "0", count: places - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -places))
            while digits.hasSuffix("0") { digits.removeLast() }
            if digits.hasSuffix(".") { digits.removeLast() }
        }
        return negative && digits != "0" ? "-" + digits : digits
    }

    /// The number of decimals the value has when it is a finite decimal (its denominator is 2^a·5^b),
    /// else nil.
    public var decimalPlaces: Int? {
        var rest = parts.denominator
        var twos = 0
        var fives = 0
        while !rest.isOne {
            let (byTwo, remainderTwo) = rest.quotientAndRemainder(dividingBy: BigUInt(2))
            if remainderTwo.isZero { rest = byTwo; twos += 1; continue }
            let (byFive, remainderFive) = rest.quotientAndRemainder(dividingBy: BigUInt(5))
            guard remainderFive.isZero else { return nil }
            rest = byFive
            fives += 1
        }
        return max(twos, fives)
    }

    /// Every digit of a finite decimal ("0.8", "28"); other values to 20 decimals.
    public var exactDecimal: String { rounded(places: decimalPlaces ?? 20) }

    /// "p/q" (or "p" when q is 1).
    public var description: String {
        let (negative, numerator, denominator) = parts
        let sign = negative ? "-" : ""
        return denominator.isOne ? sign + numerator.decimalString : sign + numerator.decimalString + "/" + denominator.decimalString
    }
}

/// A natural number of any size: the numerators and denominators of `Rational`. Little-endian 32-bit
/// limbs, no leading zero limbs (zero has none), so equal numbers have equal limbs.
struct BigUInt: Hashable, Comparable, Sendable {
    private(set) var limbs: [UInt32]

    init() { limbs = [] }

    init(_ value: UInt64) {
        limbs = value == 0 ? [] : value >> 32 == 0 ? [UInt32(value)] : [UInt32(truncatingIfNeeded: value), UInt32(value >> 32)]
    }

    init(_ value: UInt) { self.init(UInt64(value)) }

    init(_ value: UInt128) {
        self.init(limbs: [0, 32, 64, 96].map { UInt32(truncatingIfNeeded: value >> $0) })
    }

    /// The value when it is at most Int64.max.
    var int64: Int64? {
        limbs.count <= 2 && low64 <= UInt64(Int64.max) ? Int64(low64) : nil
    }

    init(_ value: Int) {
        precondition(value >= 0)
        self.init(UInt64(value))
    }

    private init(limbs: [UInt32]) {
        self.limbs = limbs
        normalize()
    }

    private mutating func normalize() {
        while limbs.last == 0 { limbs.removeLast() }
    }

    var isZero: Bool { limbs.isEmpty }
    var isOne: Bool { limbs.count == 1 && limbs[0] == 1 }

    /// The lowest 64 bits.
    var low64: UInt64 {
        (limbs.count > 0 ? UInt64(limbs[0]) : 0) | (limbs.count > 1 ? UInt64(limbs[1]) << 32 : 0)
    }

    var bitWidth: Int {
        guard let top = limbs.last else { return 0 }
        return limbs.count * 32 - top.leadingZeroBitCount
    }

    var trailingZeroBitCount: Int {
        guard let first = limbs.firstIndex(where: { $0 != 0 }) else { return 0 }
        return first * 32 + limbs[first].trailingZeroBitCount
    }

    static func power(of base: UInt32, _ exponent: Int) -> BigUInt {
        var result = BigUInt(1)
        for _ in 0..<exponent { result.multiplyAdd(base, 0) }
        return result
    }

    /// self = self × factor + addend.
    mutating func multiplyAdd(_ factor: UInt32, _ addend: UInt32) {
        var carry = UInt64(addend)
        for index in limbs.indices {
            let product = UInt64(limbs[index]) * UInt64(factor) + carry
            limbs[index] = UInt32(truncatingIfNeeded: product)
            carry = product >> 32
        }
        if carry != 0 { limbs.append(UInt32(carry)) }
        normalize()
    }

    static func < (a: BigUInt, b: BigUInt) -> Bool {
        if a.limbs.count != b.limbs.count { return a.limbs.count < b.limbs.count }
        for index in a.limbs.indices.reversed() where a.limbs[index] != b.limbs[index] {
            return a.limbs[index] < b.limbs[index]
        }
        return false
    }

    static func + (a: BigUInt, b: BigUInt) -> BigUInt {
        let (long, short) = a.limbs.count >= b.limbs.count ? (a.limbs, b.limbs) : (b.limbs, a.limbs)
        var result = long
        var carry: UInt64 = 0
        for index in result.indices {
            let sum = UInt64(result[index]) + (index < short.count ? UInt64(short[index]) : 0) + carry
            result[index] = UInt32(truncatingIfNeeded: sum)
            carry = sum >> 32
            if carry == 0 && index >= short.count { break }
        }
        if carry != 0 { result.append(UInt32(carry)) }
        return BigUInt(limbs: result)
    }

    /// `a - b`; requires a ≥ b.
    static func - (a: BigUInt, b: BigUInt) -> BigUInt {
        precondition(!(a < b), "BigUInt subtraction below zero")
        var result = a.limbs
        var borrow: Int64 = 0
        for index in result.indices {
            var difference = Int64(result[index]) - (index < b.limbs.count ? Int64(b.limbs[index]) : 0) - borrow
            borrow = difference < 0 ? 1 : 0
            if difference < 0 { difference += 1 << 32 }
            result[index] = UInt32(difference)
            if borrow == 0 && index >= b.limbs.count { break }
        }
        return BigUInt(limbs: result)
    }

    static func * (a: BigUInt, b: BigUInt) -> BigUInt {
        if a.isZero || b.isZero { return BigUInt() }
        var result = [UInt32](repeating: 0, count: a.limbs.count + b.limbs.count)
        for i in a.limbs.indices {
            var carry: UInt64 = 0
            let left = UInt64(a.limbs[i])
            for j in b.limbs.indices {
                let product = left * UInt64(b.limbs[j]) + UInt64(result[i + j]) + carry
                result[i + j] = UInt32(truncatingIfNeeded: product)
                carry = product >> 32
            }
            result[i + b.limbs.count] = UInt32(carry)
        }
        return BigUInt(limbs: result)
    }

    func shiftedLeft(_ count: Int) -> BigUInt {
        guard !isZero, count > 0 else { return count < 0 ? shiftedRight(-count) : self }
        let whole = count / 32
        let bits = count % 32
        var result = [UInt32](repeating: 0, count: whole) + limbs + [0]
        if bits > 0 {
            for index in stride(from: result.count - 1, through: whole, by: -1) {
                let high = result[index] << bits
                let low = index > whole ? result[index - 1] >> (32 - bits) : 0
                result[index] = high | low
            }
        }
        return BigUInt(limbs: result)
    }

    func shiftedRight(_ count: Int) -> BigUInt {
        guard count > 0 else { return count < 0 ? shiftedLeft(-count) : self }
        let whole = count / 32
        guard whole < limbs.count else { return BigUInt() }
        let bits = count % 32
        var result = Array(limbs[whole...])
        if bits > 0 {
            for index in result.indices {
                let low = result[index] >> bits
                let high = index + 1 < result.count ? result[index + 1] << (32 - bits) : 0
                result[index] = low | high
            }
        }
        return BigUInt(limbs: result)
    }

    /// Truncating division; `divisor` must not be 0.
    func quotientAndRemainder(dividingBy divisor: BigUInt) -> (quotient: BigUInt, remainder: BigUInt) {
        precondition(!divisor.isZero, "BigUInt division by zero")
        if self < divisor { return (BigUInt(), self) }
        if divisor.limbs.count == 1 {
            // One limb: schoolbook division, a limb at a time.
            let d = UInt64(divisor.limbs[0])
            var quotient = limbs
            var remainder: UInt64 = 0
            for index in limbs.indices.reversed() {
                let current = remainder << 32 | UInt64(limbs[index])
                quotient[index] = UInt32(current / d)
                remainder = current % d
            }
            return (BigUInt(limbs: quotient), BigUInt(remainder))
        }
        // Shift and subtract, one quotient bit at a time.
        var shift = bitWidth - divisor.bitWidth
        var remainder = self
        var shifted = divisor.shiftedLeft(shift)
        var quotient = [UInt32](repeating: 0, count: shift / 32 + 1)
        while shift >= 0 {
            if !(remainder < shifted) {
                remainder = remainder - shifted
                quotient[shift / 32] |= 1 << UInt32(shift % 32)
            }
            shifted = shifted.shiftedRight(1)
            shift -= 1
        }
        return (BigUInt(limbs: quotient), remainder)
    }

    /// The greatest common divisor (binary GCD: shifts and subtractions only). gcd(0, b) = b.
    static func gcd(_ a: BigUInt, _ b: BigUInt) -> BigUInt {
        if a.isZero { return b }
        if b.isZero { return a }
        if a.isOne || b.isOne { return BigUInt(1) }
        if a.limbs.count <= 2 && b.limbs.count <= 2 {
            var (x, y) = (a.low64, b.low64)
            while y != 0 { (x, y) = (y, x % y) }
            return BigUInt(x)
        }
        let common = min(a.trailingZeroBitCount, b.trailingZeroBitCount)
        var x = a.shiftedRight(a.trailingZeroBitCount)
        var y = b
        while !y.isZero {
            y = y.shiftedRight(y.trailingZeroBitCount)
            if y < x { swap(&x, &y) }
            y = y - x
        }
        return x.shiftedLeft(common)
    }

    var decimalString: String {
        if isZero { return "0" }
        var chunks: [UInt32] = []
        var rest = self
        let billion = BigUInt(1_000_000_000)
        while !rest.isZero {
            let (quotient, remainder) = rest.quotientAndRemainder(dividingBy: billion)
            chunks.append(UInt32(remainder.low64))
            rest = quotient
        }
        var text = String(chunks.last!)
        for chunk in chunks.dropLast().reversed() {
            let part = String(chunk)
            text += String(repeating: "0", count: 9 - part.count) + part
        }
        return text
    }
}
