using PrivateHealth.Participant.Chain;

namespace PrivateHealth.Participant.Tests;

public sealed class ChainKeyTests
{
    [Fact]
    public void KeccakMatchesTheKnownAnswerForTheEmptyString()
    {
        Assert.Equal("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470", Convert.ToHexStringLower(ChainKey.Keccak256([])));
    }

    [Fact]
    public void AddressDerivationMatchesAKnownAccount()
    {
        // the account of web3.js' documentation example for privateKeyToAccount
        using var key = ChainKey.FromPrivateKey(Convert.FromHexString("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"));
        Assert.Equal("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23", key.AddressHex);
        Assert.Equal(65, key.PublicKey.Length);
    }

    [Theory]
    [InlineData("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")]
    [InlineData("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")]
    [InlineData("0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB")]
    [InlineData("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb")]
    public void ChecksumAddressesMatchEip55Vectors(string address)
    {
        Assert.Equal(address, ChainKey.ToChecksumAddress(Convert.FromHexString(address[2..])));
    }

    [Fact]
    public void GeneratedKeysAreValidAndDistinct()
    {
        using var a = ChainKey.Generate();
        using var b = ChainKey.Generate();
        Assert.NotEqual(a.AddressHex, b.AddressHex);
        using var again = ChainKey.FromPrivateKey(a.PrivateKey);
        Assert.Equal(a.AddressHex, again.AddressHex);
        Assert.Throws<ArgumentException>(() => ChainKey.FromPrivateKey(new byte[32]));
    }
}
