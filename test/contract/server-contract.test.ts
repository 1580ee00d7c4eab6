/**
 * The server contract (server-contract.ts) on the server of this run: FerretDB on SQLite (`npm
 * test`), on PostgreSQL (`TEST_BACKEND=postgresql`), or the server MONGODB_URI names.
 */
import { describeServerContract } from './server-contract.js';
import { globalServerTarget } from './contract-target.js';

describeServerContract(globalServerTarget());
