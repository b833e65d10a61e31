/** The worker is a thin shell: the Engine, exposed over Comlink with typed errors. */
import { Engine } from '../src/engine/engine.ts';
import { installErrorTransfer } from '../src/rpc.ts';

installErrorTransfer().expose(new Engine());
