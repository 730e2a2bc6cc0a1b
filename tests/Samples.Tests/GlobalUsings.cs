global using System.Globalization;
global using System.Text.RegularExpressions;
global using Xunit;
