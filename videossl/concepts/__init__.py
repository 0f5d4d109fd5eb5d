"""Action concept spaces: LLM-written class descriptions and attributes (``prompts/*.json``),
their validation, their text embeddings (cached) and their generation with a language model."""

from videossl.concepts.embed import (ConceptEmbeddings, HFTextEncoder, embed_concepts, load_text_encoder,
                                     readable_name)
from videossl.concepts.schema import ConceptClass, ConceptSpace, load_concepts, parse_concepts

__all__ = ["ConceptClass", "ConceptSpace", "ConceptEmbeddings", "HFTextEncoder", "embed_concepts",
           "load_concepts", "load_text_encoder", "parse_concepts", "readable_name"]
