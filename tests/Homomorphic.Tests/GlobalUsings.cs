global using System.Numerics;
global using PrivateHealth.Homomorphic.Ckks;
global using PrivateHealth.Homomorphic.Ring;
global using PrivateHealth.Homomorphic.Rlwe;
global using Xunit;
