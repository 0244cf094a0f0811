/**
 * The constants of the workflow format. In a file of their own, with no imports, so that a browser bundle
 * (the editor's web app) can take them from core without pulling in the schema builder.
 */

/** The format tag of the one workflow format this runtime reads and writes. */
export const WORKFLOW_FORMAT = 'kinegraph/workflow@1';

/**
 * The node type of an instance of the workflow's subgraph `<id>` is `subgraph/<id>`. The `subgraph`
 * namespace is reserved: no plugin may register a node type in it.
 */
export const SUBGRAPH_TYPE_PREFIX = 'subgraph/';

/** Inside a subgraph, edges from `{"node": "$input", "output": "<input name>"}` read the subgraph's inputs. */
export const SUBGRAPH_INPUT_NODE = '$input';

/** The format tag of a subgraph blueprint file, which a plugin ships and the editor's palette lists. */
export const BLUEPRINT_FORMAT = 'kinegraph/blueprint@1';
