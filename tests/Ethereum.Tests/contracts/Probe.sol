// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.20;

/// Test contract for the Ethereum client's live tests: events, tuples, and every revert flavour.
contract Probe {
    error Unauthorized(address caller, uint256 code);

    event Stored(address indexed who, uint256 indexed key, string note, bytes32[] tags);
    event Ping(uint256 indexed round, uint256 value);

    struct Item {
        uint256 id;
        bytes32[] tags;
    }

    address public owner;
    uint256 public total;
    mapping(uint256 => string) public notes;

    constructor(uint256 initial) payable {
        owner = msg.sender;
        total = initial;
    }

    function store(uint256 key, string calldata note, bytes32[] calldata tags) external returns (uint256) {
        notes[key] = note;
        total += key;
        emit Stored(msg.sender, key, note, tags);
        return total;
    }

    function ping(uint256 round, uint256 value) external {
        emit Ping(round, value);
    }

    function echo(Item[] calldata items, address[3] calldata who, int24 x) external pure returns (Item[] memory, address[3] memory, int24) {
        return (items, who, x);
    }

    function failRequire(uint256 x) external pure returns (uint256) {
        require(x < 10, "x too large");
        return x;
    }

    function failCustom() external view {
        revert Unauthorized(msg.sender, 42);
    }

    function failPanic(uint256 a) external pure returns (uint256) {
        return 10 / a;
    }

    function setTotal(uint256 v) external {
        require(v != 13, "unlucky");
        total = v;
    }

    function failCustomTx() external {
        total += 1;
        revert Unauthorized(msg.sender, 7);
    }
}
