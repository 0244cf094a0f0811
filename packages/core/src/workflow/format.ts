/**
 * The format tag of the one workflow format this runtime reads and writes. In a file of its own, with no
 * imports, so that a browser bundle (the editor's web app) can take it from core without pulling in the
 * schema builder.
 */
export const WORKFLOW_FORMAT = 'kinegraph/workflow@1';
