"""HTML text: ``{{ path }}`` templates, slot markers, safe JSON, each slot's parser context."""
